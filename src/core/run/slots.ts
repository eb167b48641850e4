/** A semaphore served by priority, then FIFO: stages on the longest remaining chain get the next slot. */
export class Slots {
  private free: number;
  private waiting: { prio: number; seq: number; go: () => void }[] = [];
  private seq = 0;

  constructor(n: number) {
    this.free = Math.max(1, n);
  }

  acquire(prio = 0): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((go) => {
      this.waiting.push({ prio, seq: this.seq++, go });
      this.waiting.sort((a, b) => b.prio - a.prio || a.seq - b.seq);
    });
  }

  contended(): boolean {
    return this.waiting.length > 0;
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next.go();
    else this.free++;
  }
}
