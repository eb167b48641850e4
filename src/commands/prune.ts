import { Flags } from '@oclif/core';
import { DvclCommand } from '../cli/base.js';
import type { PruneResult } from '../core/services/prune.js';

export default class Prune extends DvclCommand {
  static override summary = 'Forget deleted inputs and removed stages';
  static override description = `Drops from .manifest.json the items of per-item stages whose input file no longer exists, \
and removes their outputs; removes lock and manifest entries of stages that .pipelinerc no longer \
declares, and then run records that nothing refers to. An output is removed only while it is the \
file dvcl recorded for its item: one modified since is kept, with a warning naming it.`;
  static override flags = {
    deleted: Flags.boolean({ description: 'drop entries whose input or stage no longer exists (the only mode; accepted for clarity)', default: true }),
    'dry-run': Flags.boolean({ char: 'n', description: 'print what would be dropped; change nothing' }),
  };
  static override examples = ['<%= config.bin %> prune --deleted --dry-run', '<%= config.bin %> prune --deleted', '<%= config.bin %> prune --deleted --json'];

  async run(): Promise<PruneResult> {
    const { flags } = await this.parse(Prune);
    const { prune } = await import('../core/services/prune.js');
    const r = await prune({ cwd: process.cwd(), dryRun: flags['dry-run'], onWarning: (m) => this.note(`warning: ${m}`) });
    if (!this.jsonEnabled()) {
      const verb = r.dry_run ? 'would drop' : 'dropped';
      for (const i of r.items) this.log(`${verb} item ${i.item} (stage ${i.stage}): input deleted`);
      for (const o of r.removed_outputs) this.log(`${r.dry_run ? 'would remove' : 'removed'} ${o}: the output of a deleted input`);
      for (const o of r.kept_outputs) this.log(`${r.dry_run ? 'would keep' : 'kept'} ${o}: not the file dvcl recorded for its item`);
      for (const s of r.stages) this.log(`${verb} stage ${s}: no longer in .pipelinerc`);
      if (r.runs.length) this.log(`${verb} ${r.runs.length} run record${r.runs.length === 1 ? '' : 's'} nothing refers to`);
      if (!r.items.length && !r.stages.length && !r.runs.length) this.log('Nothing to prune.');
      else if (r.dry_run) this.log('Dry run: nothing was changed. Run without --dry-run to apply.');
    }
    return r;
  }
}
