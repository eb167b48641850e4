import { Args, Flags } from '@oclif/core';
import { DvclCommand } from '../cli/base.js';
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
  static override args = { stages: Args.string({ description: 'stages whose outputs to pull (default: all)' }) };
  static override flags = {
    remote: Flags.string({ char: 'r', description: 'the remote: s3://bucket/prefix, file:///path or a folder (over settings.remote)' }),
    jobs: Flags.integer({ char: 'j', min: 1, description: 'transfers at once (default: remote_options.jobs, or 16 for S3 and 8 for a folder)' }),
    force: Flags.boolean({ char: 'f', description: 'overwrite files changed by hand' }),
    'dry-run': Flags.boolean({ char: 'n', description: 'print what would be downloaded and placed; change nothing' }),
  };
  static override examples = [
    '<%= config.bin %> pull',
    '<%= config.bin %> pull train -j 32',
    '<%= config.bin %> pull -r /mnt/share/dvcl --dry-run',
    '<%= config.bin %> pull --json',
  ];

  async run(): Promise<TransferResult> {
    const { argv, flags } = await this.parse(Pull);
    const { pull } = await import('../core/services/pull.js');
    const { transferProgress, transferText } = await import('../cli/render-transfer.js');
    const r = await pull({
      cwd: process.cwd(), targets: argv as string[], remote: flags.remote, jobs: flags.jobs, force: flags.force, dryRun: flags['dry-run'],
      onProgress: transferProgress(this.jsonEnabled(), 'pulled'), onWarning: (m) => this.note(`warning: ${m}`),
    });
    if (!this.jsonEnabled()) this.log(transferText(r, { done: 'placed', would: 'to place', skipped: 'already in place' }));
    if (r.failed.length) process.exitCode = 1;
    return r;
  }
}
