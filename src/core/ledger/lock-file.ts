import { readLock, writeLock, type LockData, type LockEntry } from './lock.js';

// Only the run-lock holder changes pipeline.lock, so memory is what is on disk: nothing re-reads it mid-run.
export class LockFile {
  private constructor(readonly root: string, readonly data: LockData) {}

  static read(root: string): LockFile {
    return new LockFile(root, readLock(root));
  }

  entry(stage: string): LockEntry | undefined {
    return this.data.stages[stage];
  }

  set(stage: string, entry: LockEntry | null): void {
    if (entry) this.data.stages[stage] = entry;
    else delete this.data.stages[stage];
    this.save();
  }

  remove(stages: string[]): void {
    const present = stages.filter((s) => this.data.stages[s] !== undefined);
    if (present.length === 0) return;
    for (const s of present) delete this.data.stages[s];
    this.save();
  }

  private save(): void {
    writeLock(this.root, this.data);
  }
}
