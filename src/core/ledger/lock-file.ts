import { readLock, writeLock, type LockData, type LockEntry } from './lock.js';

/**
 * pipeline.lock, owned: read once when a command opens the project, kept in memory, and written
 * whole (atomically) at each change. Only the holder of the run lock changes it, so what is in
 * memory is what is on disk: nothing re-reads it mid-run.
 */
export class LockFile {
  private constructor(readonly root: string, readonly data: LockData) {}

  static read(root: string): LockFile {
    return new LockFile(root, readLock(root));
  }

  entry(stage: string): LockEntry | undefined {
    return this.data.stages[stage];
  }

  /** Record a stage's entry (null: remove it), and write the file. */
  set(stage: string, entry: LockEntry | null): void {
    if (entry) this.data.stages[stage] = entry;
    else delete this.data.stages[stage];
    this.save();
  }

  /** Remove several stages' entries with one write; nothing is written when none was there. */
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
