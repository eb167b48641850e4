import { Args, Flags } from '@oclif/core';
import { DvclCommand } from '../cli/base.js';
import { globFlag } from '../cli/target-flags.js';
import { remoteFlag, transferJobsFlag } from '../cli/transfer-flags.js';
import type { TransferResult } from '../core/services/sharing.js';

export default class Pull extends DvclCommand {
  static override summary = 'Download recorded outputs from the remote';
  static override description = `For every out that pipeline.lock records and every item output that .manifest.json \
records, missing here or placed by dvcl earlier and now outdated: takes it from the local cache, \
or downloads it from the remote (settings.remote, DVCL_REMOTE or -r), checks its hash, places it \
and keeps it in the local cache. A file you changed by hand is never overwritten: it is listed \
and the exit status is 1; --force overwrites it. Afterwards \`dvcl status\` reads the placed files \
from its stat cache, without hashing them again.`;
  static override strict = false;
  static override args = { stages: Args.string({ ignoreStdin: true, description: 'stages whose outputs to pull (default: all); an out path names its stage' }) };
  static override flags = {
    glob: globFlag,
    remote: remoteFlag,
    jobs: transferJobsFlag,
    force: Flags.boolean({ char: 'f', description: 'overwrite files changed by hand' }),
    'dry-run': Flags.boolean({ char: 'n', description: 'print what would be downloaded and placed; change nothing' }),
  };
  static override examples = [
    '<%= config.bin %> pull',
    '<%= config.bin %> pull data/features.csv   # the outputs of the stage that writes it',
    "<%= config.bin %> pull --glob 'train-*'",
    '<%= config.bin %> pull train -j 32',
    '<%= config.bin %> pull -r /mnt/share/dvcl --dry-run',
    '<%= config.bin %> pull --json',
  ];

  async run(): Promise<TransferResult> {
    const { argv, flags } = await this.parse(Pull);
    const { pull } = await import('../core/services/pull.js');
    const { reportTransfer, transferProgress } = await import('../cli/render-transfer.js');
    const r = await pull({
      cwd: process.cwd(), targets: argv as string[], glob: flags.glob, remote: flags.remote, jobs: flags.jobs, force: flags.force, dryRun: flags['dry-run'],
      onProgress: transferProgress(this.jsonEnabled(), 'pulled'), onWarning: (m) => this.note(`warning: ${m}`),
    });
    return reportTransfer({ json: this.jsonEnabled(), log: (m) => this.log(m) }, r, { done: 'placed', would: 'to place', skipped: 'already in place' });
  }
}
