import { cmp, LOCK_HEADER, readLock, serializeLock, stageBlock, writeLockText, type LockData, type LockEntry } from './lock.js';

// Only the run-lock holder changes pipeline.lock, so memory is what is on disk: nothing re-reads it mid-run.
// Each entry's text is kept, so a change serializes one entry, not the whole lock (a run of n stages writes it n times).
export class LockFile {
  private readonly blocks = new Map<string, string>();
  private written: string | undefined;
  private interval = 0;
  private lastWrite = 0;
  private timer: NodeJS.Timeout | null = null;
  private dirty = false;
  private failed: unknown = null;

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
    this.changed();
  }

  remove(stages: string[]): void {
    const present = stages.filter((s) => this.data.stages[s] !== undefined);
    if (present.length === 0) return;
    for (const s of present) {
      delete this.data.stages[s];
      this.blocks.delete(s);
    }
    this.changed();
  }

  /**
   * Write at most once per `ms` (a run of thousands of short stages would rewrite the whole lock
   * after each); flush() writes what is left. A kill loses at most `ms` of entries: those stages
   * are stale again, as if killed before they finished.
   */
  coalesce(ms: number): void {
    this.interval = ms;
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.failed) {
      const e = this.failed;
      this.failed = null;
      throw e;
    }
    if (this.dirty) this.save();
  }

  private changed(): void {
    this.dirty = true;
    if (this.failed) return this.flush();
    const wait = this.lastWrite + this.interval - Date.now();
    if (wait <= 0) return this.flush();
    this.timer ??= setTimeout(() => {
      this.timer = null;
      try {
        this.save();
      } catch (e) {
        this.failed = e; // thrown by the next change or flush, in the run's own flow
      }
    }, wait).unref();
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
    this.dirty = false;
    const text = this.text();
    writeLockText(this.root, text, this.written);
    this.written = text;
    this.lastWrite = Date.now();
  }
}
