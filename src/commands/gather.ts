import { Args, Flags } from '@oclif/core';
import { DvclCommand } from '../cli/base.js';
import { remoteFlag, transferJobsFlag } from '../cli/transfer-flags.js';
import type { GatherResult } from '../core/services/gather.js';

export default class Gather extends DvclCommand {
  static override summary = 'Fold the shards\' results for this commit into the ledger';
  static override description = `After \`dvcl repro STAGE --shard K/N\` workers ran (an engine's array job), reads every \
ledger fragment they uploaded to the remote for the commit checked out, and folds them into \
.manifest.json, item by item (for one input, a success over a failure; else the later record). \
Once every item of the stage succeeded, its record and pipeline.lock entry are written too, as one \
\`dvcl repro\` would have. Items no fragment covers are reported. Fragments of another commit, or of \
workers that saw different inputs, are refused, never mixed in. Gathering twice writes the same \
bytes. Commit .manifest.json and pipeline.lock afterwards; \`dvcl pull\` fetches the outputs.`;
  static override strict = false;
  static override args = { stages: Args.string({ description: 'per-item stages to gather (default: all)' }) };
  static override flags = {
    remote: remoteFlag,
    jobs: transferJobsFlag,
    'dry-run': Flags.boolean({ char: 'n', description: 'report what would be recorded; write nothing' }),
  };
  static override examples = [
    '<%= config.bin %> gather',
    '<%= config.bin %> gather extract --dry-run',
    '<%= config.bin %> gather && git add .manifest.json pipeline.lock && git commit -m "extract: gathered"',
  ];

  async run(): Promise<GatherResult> {
    const { argv, flags } = await this.parse(Gather);
    const { gather } = await import('../core/services/gather.js');
    const r = await gather({ cwd: process.cwd(), targets: argv as string[], remote: flags.remote, jobs: flags.jobs, dryRun: flags['dry-run'], onWarning: (m) => this.note(`warning: ${m}`) });
    if (this.jsonEnabled()) return r;
    if (r.stages.length === 0) this.log('no per-item stage to gather');
    for (const s of r.stages) {
      if (s.fragments === 0) {
        this.log(`${s.stage}: no fragments for ${r.commit.slice(0, 12)} on ${r.remote}`);
        continue;
      }
      const shards = `${s.shards.length}${s.shard_count === null ? '' : `/${s.shard_count}`} shards`;
      const state = s.complete ? 'complete' : `${s.uncovered} of ${s.items_total} items not covered${s.failed ? ` (${s.failed} failed)` : ''}`;
      this.log(`${s.stage}: ${s.fragments} fragments from ${shards}, ${s.recorded} item records ${r.dry_run ? 'to write' : 'written'}; ${state}`);
      if (s.missing_shards.length) this.log(`  shards that sent nothing: ${s.missing_shards.join(', ')}`);
    }
    if (!r.dry_run) this.log(r.changed ? 'commit .manifest.json and pipeline.lock' : 'nothing new');
    return r;
  }
}
