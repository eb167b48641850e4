import { Args, Flags } from '@oclif/core';
import { DvclCommand } from '../../cli/base.js';
import type { ParamsDiffResult } from '../../core/services/diff.js';

export default class ParamsDiff extends DvclCommand {
  static override summary = 'Show the params that changed between two revisions';
  static override description = `Compares the params recorded in pipeline.lock (the values the stages ran with) at REV_A \
(default HEAD) and REV_B (default: the working tree), one row per param: its file, key, old and new \
value, and the stages that track it. Only changed params unless --all.`;
  static override args = {
    rev_a: Args.string({ description: 'the old revision (default HEAD)' }),
    rev_b: Args.string({ description: 'the new revision (default: the working tree)' }),
  };
  static override flags = {
    all: Flags.boolean({ description: 'include the params that did not change' }),
    md: Flags.boolean({ description: 'a Markdown table, to paste into a pull request' }),
  };
  static override examples = [
    '<%= config.bin %> params diff',
    '<%= config.bin %> params diff HEAD~1 HEAD --all',
    '<%= config.bin %> params diff main --md',
  ];

  async run(): Promise<ParamsDiffResult> {
    const { args, flags } = await this.parse(ParamsDiff);
    const { paramsDiff } = await import('../../core/services/diff.js');
    const r = await paramsDiff({ cwd: process.cwd(), a: args.rev_a, b: args.rev_b, all: flags.all });
    if (!this.jsonEnabled()) {
      const { paramsMarkdown, paramsText } = await import('../../cli/render-diff.js');
      this.log(flags.md ? paramsMarkdown(r) : paramsText(r));
    }
    return r;
  }
}
