import { Args } from '@oclif/core';
import { DvclCommand } from '../cli/base.js';
import type { MergeDecision, MergeKind } from '../core/ledger/merge.js';

export default class MergeDriver extends DvclCommand {
  static override hidden = true;
  static override summary = 'Git merge driver for pipeline.lock and .manifest.json';
  static override description = `Registered by \`dvcl init\` (.gitattributes and the local git config); git runs it as \
\`dvcl merge-driver %O %A %B %P\`. Merges the three versions entry by entry: an entry changed on \
one branch is taken, one changed on both is taken from the later run, run records are united. \
Writes the result, in canonical form, to OURS and exits 0. When a version cannot be parsed, \
OURS is left as it is and the exit is 1: git then reports an ordinary conflict.`;
  static override args = {
    base: Args.string({ ignoreStdin: true, required: true, description: 'common ancestor version (%O); empty when the file was added on both branches' }),
    ours: Args.string({ ignoreStdin: true, required: true, description: 'our version (%A); the result is written here' }),
    theirs: Args.string({ ignoreStdin: true, required: true, description: 'their version (%B)' }),
    path: Args.string({ ignoreStdin: true, description: 'the file\'s path in the repository (%P): tells a lock from a manifest' }),
  };

  async run(): Promise<{ kind: MergeKind; path: string | null; decisions: MergeDecision[] }> {
    const { args } = await this.parse(MergeDriver);
    const { mergeFiles, describeDecisions } = await import('../core/ledger/merge-files.js');
    const r = mergeFiles({ base: args.base, ours: args.ours, theirs: args.theirs, path: args.path });
    if (!this.jsonEnabled()) for (const line of describeDecisions(args.path ?? r.kind, r.decisions)) this.note(`dvcl merge-driver: ${line}`);
    return { kind: r.kind, path: args.path ?? null, decisions: r.decisions };
  }
}
