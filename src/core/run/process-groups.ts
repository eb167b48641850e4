import type { ChildProcess } from 'node:child_process';
import type { GroupNotes } from './leftover-groups.js';

/** What an interrupt stops; each group also noted in GroupNotes, so the next run can stop them if this one is killed. */
export class ProcessGroups {
  /** Leaders of the groups running now (each started detached: pid = process group id). */
  private readonly running = new Set<number>();
  /** Bumped by killAll: a command whose direct start failed is not retried through the shell after it. */
  kills = 0;

  constructor(private readonly notes: GroupNotes | null = null) {}

  add(child: ChildProcess): () => void {
    return child.pid === undefined ? () => {} : this.addPid(child.pid);
  }

  addPid(pid: number): () => void {
    this.running.add(pid);
    this.notes?.note(pid);
    return () => this.running.delete(pid);
  }

  killAll(signal: NodeJS.Signals): number {
    this.kills++;
    for (const pid of this.running) {
      try {
        process.kill(-pid, signal);
      } catch { /* already gone */ }
    }
    return this.running.size;
  }
}
