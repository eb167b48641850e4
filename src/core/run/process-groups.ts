import type { ChildProcess } from 'node:child_process';
import type { GroupNotes } from './leftover-groups.js';

/** What an interrupt stops; each group also noted in GroupNotes, so the next run can stop them if this one is killed. */
export class ProcessGroups {
  private readonly running = new Set<ChildProcess>();
  /** Bumped by killAll: a command whose direct start failed is not retried through the shell after it. */
  kills = 0;

  constructor(private readonly notes: GroupNotes | null = null) {}

  add(child: ChildProcess): () => void {
    this.running.add(child);
    this.notes?.note(child.pid);
    return () => this.running.delete(child);
  }

  killAll(signal: NodeJS.Signals): number {
    this.kills++;
    for (const c of this.running) {
      try {
        process.kill(-c.pid!, signal);
      } catch { /* already gone */ }
    }
    return this.running.size;
  }
}
