import { Args, Flags } from '@oclif/core';
import { DvclCommand } from '../cli/base.js';
import { globFlag } from '../cli/target-flags.js';
import type { TransferResult } from '../core/services/sharing.js';

export default class Checkout extends DvclCommand {
  static override summary = 'Restore recorded outputs from the local cache';
  static override description = `Places the outs that pipeline.lock records and the item outputs that .manifest.json \
records from the local object cache (.dvcl/objects/, filled by repro and pull), without the network \
and without running anything: after \`git checkout other-branch\`, that branch's outputs. A file \
you changed by hand is never overwritten: it is listed and the exit status is 1; --force \
overwrites it. With STAGE names, only those stages' outputs.`;
  static override strict = false;
  static override args = { stages: Args.string({ ignoreStdin: true, description: 'stages whose outputs to restore (default: all); an out path names its stage' }) };
  static override flags = {
    glob: globFlag,
    force: Flags.boolean({ char: 'f', description: 'overwrite files changed by hand, and remove what is in the way' }),
    'dry-run': Flags.boolean({ char: 'n', description: 'print what would be placed; change nothing' }),
  };
  static override examples = [
    '<%= config.bin %> checkout',
    '<%= config.bin %> checkout data/features.csv   # the outputs of the stage that writes it',
    "<%= config.bin %> checkout --glob 'train-*'",
    'git checkout experiment && <%= config.bin %> checkout   # that branch\'s outputs, nothing run',
    '<%= config.bin %> checkout train --dry-run',
    '<%= config.bin %> checkout --force --json',
  ];

  async run(): Promise<TransferResult> {
    const { argv, flags } = await this.parse(Checkout);
    const { checkout } = await import('../core/services/checkout.js');
    const { reportTransfer, transferProgress } = await import('../cli/render-transfer.js');
    const r = await checkout({
      cwd: process.cwd(), targets: argv as string[], glob: flags.glob, force: flags.force, dryRun: flags['dry-run'],
      onProgress: transferProgress(this.jsonEnabled(), 'placed'), onWarning: (m) => this.note(`warning: ${m}`),
    });
    return reportTransfer({ json: this.jsonEnabled(), log: (m) => this.log(m) }, r, { done: 'placed', would: 'to place', skipped: 'already in place' });
  }
}
