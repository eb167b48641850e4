const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * SIGINT, SIGTERM and SIGHUP (a closed terminal: stage commands, in their own groups, would not
 * get it) caught for a writing run from before it takes the run lock until it has released it.
 * A signal in that span must stop the run the orderly way (stop what it started, keep what
 * finished, release the lock, exit 128+N): without a listener, Node dies at once and the lock
 * stays behind (issue 11). A signal that comes before the run listens is kept until it does.
 */
export class Interrupts {
  private early: NodeJS.Signals | undefined;
  private listener: ((sig: NodeJS.Signals) => void) | null = null;
  private readonly onSignal = (sig: NodeJS.Signals): void => {
    if (this.listener) this.listener(sig);
    else this.early ??= sig;
  };

  constructor() {
    for (const s of SIGNALS) process.on(s, this.onSignal);
  }

  /** Hand every signal to `fn` from now on, starting with one that came before. */
  listen(fn: (sig: NodeJS.Signals) => void): void {
    this.listener = fn;
    if (this.early) fn(this.early);
  }

  stop(): void {
    for (const s of SIGNALS) process.off(s, this.onSignal);
    this.listener = null;
  }
}
