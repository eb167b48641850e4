const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

// Caught for a writing run while it holds the run lock (without a listener Node dies at once and the lock stays,
// issue 11): the first signal stops the run orderly, the second kills what runs. SIGHUP: stage groups would miss it.
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
