import { signalExit } from '../core/errors.js';
import type { ReproOptions, ReproResult } from '../core/run/types.js';
import { Interrupts } from './interrupts.js';

/** 1 on a failure, 128 + the signal number when a signal stopped it. */
export function runExitCode(r: ReproResult): number {
  if (r.interrupted) return signalExit(r.interrupted);
  return r.ok ? 0 : 1;
}

/** `repro` and `retry`: run with the human reporter, print the summary, set the exit status. */
export async function runAndReport(
  cmd: { json: boolean; argv: string[]; log(msg: string): void },
  name: 'repro' | 'retry',
  opts: Omit<ReproOptions, 'cwd' | 'reporter' | 'argv'>,
  nothingText?: string,
): Promise<ReproResult> {
  const { repro } = await import('../core/services/repro.js');
  const { humanReporter, summaryText } = await import('./reporter.js');
  // A dry run writes nothing: Ctrl-C may stop it where it stands.
  const interrupts = opts.dryRun ? null : new Interrupts();
  let result: ReproResult;
  try {
    result = await repro({
      ...opts, cwd: process.cwd(), argv: [name, ...cmd.argv.filter((a) => a !== '--json')],
      reporter: humanReporter({ json: cmd.json, dryRun: opts.dryRun }),
      signal: interrupts?.signal, forceSignal: interrupts?.forceSignal,
    });
  } finally {
    interrupts?.close();
  }
  if (!cmd.json) cmd.log(result.stages.length === 0 && !opts.dryRun && nothingText ? nothingText : summaryText(result, opts.dryRun));
  process.exitCode = runExitCode(result);
  return result;
}
