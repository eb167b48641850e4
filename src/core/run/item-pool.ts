import type { ItemExecutor, ShellSlot, StartedItem } from './item-exec.js';
import type { Slots } from './slots.js';
import type { ItemTask } from '../status/status.js';

export interface ItemPoolOptions {
  tasks: ItemTask[];
  workers: number;
  exec: ItemExecutor;
  slots: Slots;
  prio: number;
  stopped(): boolean;
  finish(started: StartedItem): Promise<boolean>;
}

// A worker per job slot takes the next item (queueing all on the slots is O(n²)); it drains and gives its slot up
// when another stage waits for it.
export async function runItemPool(o: ItemPoolOptions): Promise<void> {
  let next = 0;
  let error: unknown;
  // Items given back by a worker's shell (see steal), taken before new ones.
  const givenBack: ItemTask[] = [];
  const more = () => (givenBack.length > 0 || next < o.tasks.length) && !o.stopped() && error === undefined;
  const take = () => givenBack.pop() ?? o.tasks[next++];
  const workers: { shell: ShellSlot; inFlight: StartedItem[] }[] = [];

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
