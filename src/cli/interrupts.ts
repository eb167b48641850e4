const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Caught for a writing run from before it takes the run lock until it releases it (without a
 * listener Node dies at once and the lock stays behind, issue 11), and handed over as AbortSignals:
 * the first stops the run orderly, the second kills what still runs. SIGHUP: a closed terminal's
 * signal would not reach stage commands in their own groups. An early signal waits in `signal`.
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
