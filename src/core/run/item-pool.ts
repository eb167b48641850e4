import type { ItemExecutor, ShellSlot, StartedItem } from './item-exec.js';
import type { Slots } from './slots.js';
import type { ItemTask } from '../status/status.js';

export interface ItemPoolOptions {
  tasks: ItemTask[];
  /** How many workers, each in a job slot of its own when it runs. */
  workers: number;
  exec: ItemExecutor;
  slots: Slots;
  /** The stage's priority for the job slots (see Slots). */
  prio: number;
  /** Start no more items (a signal arrived). */
  stopped(): boolean;
  /**
   * Wait for a started item and record it; false when it never started (its shell died first):
   * the pool runs it again. An error stops the pool from starting items.
   */
  finish(started: StartedItem): Promise<boolean>;
}

/**
 * Runs a per-item stage's items: as many workers as job slots, each taking the next item (queueing
 * every item on the slots at once would cost O(n²) in the priority queue: minutes for 100,000
 * items). Each worker keeps items queued in its slot's item shell ahead of the one running (see
 * ItemShell.capacity), so the shell never waits for dvcl to record a result — unless another stage
 * waits for the slot: then the queue drains and the slot is given up.
 *
 * The first error of `finish` (the journal cannot be written) is thrown once the items in flight
 * have finished.
 */
export async function runItemPool(o: ItemPoolOptions): Promise<void> {
  let next = 0;
  let error: unknown;
  // Items given back by a worker's shell (see steal), taken before new ones.
  const givenBack: ItemTask[] = [];
  const more = () => (givenBack.length > 0 || next < o.tasks.length) && !o.stopped() && error === undefined;
  const take = () => givenBack.pop() ?? o.tasks[next++];
  // Each worker's shell and what it has started and not yet finished, oldest first.
  const workers: { shell: ShellSlot; inFlight: StartedItem[] }[] = [];

  /**
   * With nothing left to start, take back the items queued behind another worker's running one
   * (the longest queue), so a long item does not hold up those behind it while this slot idles.
   * Once every item has been handed out queues only shrink, so when there is nothing to take back
   * now, there never will be.
   */
  const steal = (self: StartedItem[]): boolean => {
    if (o.stopped() || error !== undefined) return false;
    for (const w of [...workers].sort((a, b) => b.inFlight.length - a.inFlight.length)) {
      if (w.inFlight === self || w.inFlight.length === 0) continue;
      const n = w.shell.giveBack();
      if (n > 0) {
        for (const s of w.inFlight.splice(-n)) givenBack.push(s.t);
        return true;
      }
    }
    return false;
  };

  const worker = async (_: unknown, n: number): Promise<void> => {
    const shell = o.exec.shellSlot(n);
    const inFlight: StartedItem[] = [];
    workers.push({ shell, inFlight });
    try {
      while (more()) {
        await o.slots.acquire(o.prio);
        try {
          let fresh = true; // the slot was just taken: it runs at least one item
          const room = () => inFlight.length === 0 || (shell.room(inFlight.length) && inFlight[inFlight.length - 1].queued);
          for (;;) {
            while (more() && (fresh || (room() && !o.slots.contended()))) {
              fresh = false;
              inFlight.push(o.exec.start(take(), shell));
            }
            if (inFlight.length === 0 && !more() && steal(inFlight)) continue;
            const cur = inFlight.shift();
            if (!cur) break;
            try {
              if (!(await o.finish(cur))) givenBack.push(cur.t);
            } catch (e) {
              error ??= e;
            }
          }
        } finally {
          o.slots.release();
        }
      }
    } finally {
      shell.close();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.tasks.length, o.workers)) }, worker));
  if (error !== undefined) throw error;
}
