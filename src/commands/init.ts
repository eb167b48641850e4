import { Flags } from '@oclif/core';
import { DvclCommand } from '../cli/base.js';
import { driverCommand, mergeDriverCommand } from '../cli/self.js';

export default class Init extends DvclCommand {
  static override summary = 'Set up dvcl in this folder';
  static override description = `Creates a commented .pipelinerc when there is none (never overwrites one), adds .dvcl/ to \
.gitignore, and registers dvcl's merge driver for pipeline.lock and .manifest.json in \
.gitattributes and the local git config. Running it again changes nothing.`;
  static override flags = {
    hooks: Flags.boolean({ description: 'also install a pre-commit hook that warns (never blocks) when pipeline.lock is stale; an existing hook is kept and calls it' }),
  };
  static override examples = ['<%= config.bin %> init', '<%= config.bin %> init --hooks', '<%= config.bin %> init --json'];

  async run(): Promise<{ root: string; changes: string[]; warnings: string[] }> {
    const { flags } = await this.parse(Init);
    const { init } = await import('../core/services/init.js');
    const result = await init({ cwd: process.cwd(), driverCommand: driverCommand(), mergeDriver: mergeDriverCommand(), hooks: flags.hooks });
    if (!this.jsonEnabled()) {
      for (const w of result.warnings) this.note(`warning: ${w}`);
      if (result.changes.length === 0) this.log('dvcl is already set up here: nothing changed');
      else for (const c of result.changes) this.log(c);
    }
    return result;
  }
}
