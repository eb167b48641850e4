import { Args, Flags } from '@oclif/core';
import { DvclCommand } from '../cli/base.js';
import { dryRunFlag, jobsFlag, pullFlag, shardFlag, shardOption } from '../cli/repro-flags.js';
import type { ReproResult } from '../core/run/types.js';

export default class Retry extends DvclCommand {
  static override summary = 'Re-run only what failed: failed items and failed stages';
  static override description = `Re-runs the items of per-item stages whose last attempt failed, and stages whose last run \
failed, and nothing else: no new or changed items, no other stale stage, no downstream stage. \
An item that has failed max_attempts times (settings.max_attempts, default 3) is given up: \
reported, not run, until its input changes or --max-attempts raises the limit.`;
  static override strict = false;
  static override args = { stages: Args.string({ ignoreStdin: true, description: 'stages to retry (default: every stage with failures)' }) };
  static override flags = {
    'only-failed': Flags.boolean({ description: 'only failed items and stages (the only mode; accepted for clarity)', default: true }),
    'max-attempts': Flags.integer({ min: 1, description: 'give up on an item after this many failed attempts (default: settings.max_attempts)' }),
    jobs: jobsFlag,
    'dry-run': dryRunFlag,
    pull: pullFlag,
    shard: shardFlag,
  };
  static override examples = [
    '<%= config.bin %> retry --only-failed',
    '<%= config.bin %> retry --only-failed parse --max-attempts 5',
    '<%= config.bin %> retry --only-failed --dry-run --json',
    '<%= config.bin %> retry --only-failed extract --shard auto/8 --pull   # after gather: each worker re-runs its failed items',
  ];

  async run(): Promise<ReproResult> {
    const { argv, flags } = await this.parse(Retry);
    const { runAndReport } = await import('../cli/run-repro.js');
    return runAndReport({ json: this.jsonEnabled(), argv: this.argv, log: (m) => this.log(m) }, 'retry', {
      targets: argv as string[], onlyFailed: true, maxAttempts: flags['max-attempts'], jobs: flags.jobs,
      dryRun: flags['dry-run'], keepGoing: true, ...(flags.pull ? { pull: true } : {}), ...(await shardOption(flags.shard)),
    }, 'Nothing failed: nothing to retry.');
  }
}
