import { Args, Flags } from '@oclif/core';
import { DvclCommand } from '../cli/base.js';
import type { LogResult } from '../core/services/log.js';

export default class Log extends DvclCommand {
  static override summary = 'Show which commits changed each stage, newest first';
  static override description = `Reads the committed versions of pipeline.lock, newest first, and lists every commit that \
changed a stage's entry: the commit, its author and date, the run that wrote the entry (with the \
commit it ran at) and what changed: cmd, deps, params, outs, items. With STAGE, only the commits \
that changed that stage.`;
  static override args = { stage: Args.string({ ignoreStdin: true, description: 'only this stage' }) };
  static override flags = {
    'max-count': Flags.integer({ char: 'n', min: 1, description: 'show at most N commits' }),
  };
  static override examples = ['<%= config.bin %> log', '<%= config.bin %> log train -n 5', '<%= config.bin %> log --json'];

  async run(): Promise<LogResult> {
    const { args, flags } = await this.parse(Log);
    const { stageLog } = await import('../core/services/log.js');
    const r = await stageLog({ cwd: process.cwd(), stage: args.stage, limit: flags['max-count'], onWarning: (m) => this.note(`warning: ${m}`) });
    if (!this.jsonEnabled()) {
      const { logText } = await import('../cli/render-log.js');
      this.log(logText(r));
    }
    return r;
  }
}
