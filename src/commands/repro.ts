import { Args, Flags } from '@oclif/core';
import { DvclCommand } from '../cli/base.js';
import { dryRunFlag, jobsFlag, noRunCacheFlag, pullFlag } from '../cli/repro-flags.js';
import type { ReproResult } from '../core/run/types.js';

export default class Repro extends DvclCommand {
  static override summary = 'Bring stages up to date, running only what changed';
  static override description = `Runs the named stages (default: all) and their upstream, in dependency order, independent \
stages in parallel. A stage runs only when it is stale (see \`dvcl status\`); a stage whose \
upstream re-ran but produced identical outs is not re-run. Each successful stage's entry is \
written to pipeline.lock at once. Stage output goes to stderr, prefixed with the stage name, \
and to .dvcl/logs/STAGE.log.`;
  static override strict = false;
  static override args = { stages: Args.string({ ignoreStdin: true, description: 'stages to reproduce (default: all)' }) };
  static override flags = {
    force: Flags.boolean({ char: 'f', description: 'run the selected stages even if they are up to date' }),
    'single-item': Flags.boolean({ char: 's', description: 'only the named stages, not their upstream' }),
    downstream: Flags.boolean({ description: 'the named stages and everything downstream of them' }),
    'dry-run': dryRunFlag,
    jobs: jobsFlag,
    'keep-going': Flags.boolean({ char: 'k', description: 'after a failure, go on with every stage that does not depend on it' }),
    'no-run-cache': noRunCacheFlag,
    pull: pullFlag,
    shard: Flags.string({ description: 'run only this partition of the named per-item stage\'s items, and upload what it records (see gather): K/N (1-based), auto/N or auto (from the job engine\'s index)' }),
  };
  static override examples = [
    '<%= config.bin %> repro',
    '<%= config.bin %> repro report --dry-run',
    '<%= config.bin %> repro train -f -s   # re-run train alone, even if up to date',
    '<%= config.bin %> repro prepare --downstream -j 4',
    '<%= config.bin %> repro extract --shard 3/8   # worker 3 of 8; then: dvcl gather',
    '<%= config.bin %> repro extract --shard auto/8   # inside a Kubernetes Indexed Job or a Slurm array',
  ];

  async run(): Promise<ReproResult> {
    const { argv, flags } = await this.parse(Repro);
    const { runAndReport } = await import('../cli/run-repro.js');
    const shard = flags.shard === undefined ? undefined : (await import('../core/run/shard.js')).parseShard(flags.shard);
    return runAndReport({ json: this.jsonEnabled(), argv: this.argv, log: (m) => this.log(m) }, 'repro', {
      targets: argv as string[], force: flags.force, single: flags['single-item'], downstream: flags.downstream,
      dryRun: flags['dry-run'], jobs: flags.jobs, keepGoing: flags['keep-going'],
      ...(flags['no-run-cache'] ? { runCache: false } : {}), ...(flags.pull ? { pull: true } : {}), ...(shard ? { shard } : {}),
    });
  }
}
