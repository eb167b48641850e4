import { Args, Flags } from '@oclif/core';
import { DvclCommand } from '../cli/base.js';
import type { DiffResult } from '../core/services/diff.js';

export default class Diff extends DvclCommand {
  static override summary = 'Show what changed in the pipeline between two revisions';
  static override description = `Compares pipeline.lock and .manifest.json at REV_A (default HEAD) with REV_B (default: the \
files in the working tree, as the last repro wrote them): the stages added, removed and re-run, with \
the params, deps and outs that changed (old → new); for per-item stages, the items added, removed, \
changed and failed. A revision without a pipeline.lock counts as an empty pipeline.`;
  static override args = {
    rev_a: Args.string({ description: 'the old revision (default HEAD)' }),
    rev_b: Args.string({ description: 'the new revision (default: the working tree)' }),
  };
  static override flags = {
    md: Flags.boolean({ description: 'a Markdown table, to paste into a pull request' }),
    all: Flags.boolean({ description: 'list every item, not the first 10 of each kind' }),
  };
  static override examples = [
    '<%= config.bin %> diff   # HEAD against what the last repro wrote',
    '<%= config.bin %> diff main',
    '<%= config.bin %> diff HEAD~1 HEAD --md',
    '<%= config.bin %> diff v1 v2 --json',
  ];

  async run(): Promise<DiffResult> {
    const { args, flags } = await this.parse(Diff);
    const { diff } = await import('../core/services/diff.js');
    const r = await diff({ cwd: process.cwd(), a: args.rev_a, b: args.rev_b, onWarning: (m) => this.note(`warning: ${m}`) });
    if (!this.jsonEnabled()) {
      const { diffMarkdown, diffText } = await import('../cli/render-diff.js');
      this.log(flags.md ? diffMarkdown(r, { all: flags.all }) : diffText(r, { all: flags.all }));
    }
    return r;
  }
}
