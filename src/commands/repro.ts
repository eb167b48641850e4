import { Args, Flags } from '@oclif/core';
import { DvclCommand } from '../cli/base.js';
import { dryRunFlag, jobsFlag, noRunCacheFlag, pullFlag, shardFlag, shardOption } from '../cli/repro-flags.js';
import { globFlag } from '../cli/target-flags.js';
import type { ReproResult } from '../core/run/types.js';

export default class Repro extends DvclCommand {
  static override summary = 'Bring stages up to date, running only what changed';
  static override description = `Runs the named stages (default: all) and their upstream, in dependency order, independent \
stages in parallel. A target is a stage name or a path the stage writes (one of its outs, a file \
inside a folder out, an item output of a per-item stage); --glob makes targets patterns over \
stage names, --pipeline takes each target's whole pipeline. A stage runs only when it is stale (see \`dvcl status\`); a stage whose \
upstream re-ran but produced identical outs is not re-run. Each successful stage's entry is \
written to pipeline.lock at once. Stage output goes to stderr, prefixed with the stage name, \
and to .dvcl/logs/STAGE.log.`;
  static override strict = false;
  static override args = { stages: Args.string({ ignoreStdin: true, description: 'stages to reproduce, by name or by an out path (default: all)' }) };
  static override flags = {
    force: Flags.boolean({ char: 'f', description: 'run the selected stages even if they are up to date' }),
    'single-item': Flags.boolean({ char: 's', description: 'only the named stages, not their upstream', exclusive: ['downstream', 'pipeline'] }),
    downstream: Flags.boolean({ description: 'the named stages and everything downstream of them', exclusive: ['pipeline'] }),
    pipeline: Flags.boolean({ char: 'p', description: 'every stage of the named stages\' pipelines: all stages linked to them through deps and outs, upstream or downstream' }),
    glob: globFlag,
    'dry-run': dryRunFlag,
    jobs: jobsFlag,
    'keep-going': Flags.boolean({ char: 'k', description: 'after a failure, go on with every stage that does not depend on it' }),
    'no-run-cache': noRunCacheFlag,
    pull: pullFlag,
    shard: shardFlag,
  };
  static override examples = [
    '<%= config.bin %> repro',
    '<%= config.bin %> repro report --dry-run',
    '<%= config.bin %> repro data/features.csv   # the stage whose outs hold it, and its upstream',
    "<%= config.bin %> repro --glob 'train-*'",
    '<%= config.bin %> repro features --pipeline   # the whole pipeline features belongs to',
    '<%= config.bin %> repro train -f -s   # re-run train alone, even if up to date',
    '<%= config.bin %> repro prepare --downstream -j 4',
    '<%= config.bin %> repro extract --shard 3/8   # worker 3 of 8; then: dvcl gather',
    '<%= config.bin %> repro extract --shard auto/8   # inside a Kubernetes Indexed Job or a Slurm array',
  ];

  async run(): Promise<ReproResult> {
    const { argv, flags } = await this.parse(Repro);
    const { runAndReport } = await import('../cli/run-repro.js');
    const shard = await shardOption(flags.shard);
    return runAndReport({ json: this.jsonEnabled(), argv: this.argv, log: (m) => this.log(m) }, 'repro', {
      targets: argv as string[], glob: flags.glob, pipeline: flags.pipeline, force: flags.force, single: flags['single-item'], downstream: flags.downstream,
      dryRun: flags['dry-run'], jobs: flags.jobs, keepGoing: flags['keep-going'],
      ...(flags['no-run-cache'] ? { runCache: false } : {}), ...(flags.pull ? { pull: true } : {}), ...shard,
    });
  }
}
