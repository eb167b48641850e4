const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * SIGINT, SIGTERM and SIGHUP (a closed terminal: stage commands, in their own groups, would not
 * get it) caught for a writing run from before it takes the run lock until it has released it,
 * and handed to the run as AbortSignals: the first stops it the orderly way (stop what it
 * started, keep what finished, release the lock, exit 128+N), the second kills what still runs.
 * Without a listener Node dies at once and the lock stays behind (issue 11). A signal that comes
 * before the run listens is kept in `signal` until it does.
 */
export class Interrupts {
  private readonly stop = new AbortController();
  private readonly force = new AbortController();
  readonly signal = this.stop.signal;
  readonly forceSignal = this.force.signal;
  private readonly onSignal = (sig: NodeJS.Signals): void => {
    if (!this.stop.signal.aborted) this.stop.abort(sig);
    else this.force.abort(sig);
  };

  constructor() {
    for (const s of SIGNALS) process.on(s, this.onSignal);
  }

  close(): void {
    for (const s of SIGNALS) process.off(s, this.onSignal);
  }
}
