import { cmp, LOCK_HEADER, readLock, serializeLock, stageBlock, writeLockText, type LockData, type LockEntry } from './lock.js';

// Only the run-lock holder changes pipeline.lock, so memory is what is on disk: nothing re-reads it mid-run.
// Each entry's text is kept, so a change serializes one entry, not the whole lock (a run of n stages writes it n times).
export class LockFile {
  private readonly blocks = new Map<string, string>();
  private written: string | undefined;

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
    this.blocks.delete(stage);
    this.save();
  }

  remove(stages: string[]): void {
    const present = stages.filter((s) => this.data.stages[s] !== undefined);
    if (present.length === 0) return;
    for (const s of present) {
      delete this.data.stages[s];
      this.blocks.delete(s);
    }
    this.save();
  }

  /** The lock's text, as serializeLock(data) would write it. */
  text(): string {
    const names = Object.keys(this.data.stages).sort(cmp);
    if (names.length === 0) return serializeLock(this.data);
    let text = LOCK_HEADER;
    for (const n of names) {
      let b = this.blocks.get(n);
      if (b === undefined) this.blocks.set(n, (b = stageBlock(n, this.data.stages[n])));
      text += b;
    }
    return text;
  }

  private save(): void {
    const text = this.text();
    writeLockText(this.root, text, this.written);
    this.written = text;
  }
}
