import { Args, Flags } from '@oclif/core';
import { DvclCommand } from '../cli/base.js';
import { globFlag } from '../cli/target-flags.js';
import { remoteFlag, transferJobsFlag } from '../cli/transfer-flags.js';
import type { TransferResult } from '../core/services/sharing.js';

export default class Push extends DvclCommand {
  static override summary = 'Upload recorded outputs to the remote';
  static override description = `Uploads every out that pipeline.lock records and every item output that .manifest.json \
records, when it is here with the recorded hash (in the workspace, or else in the local cache) and \
the remote (settings.remote, DVCL_REMOTE or -r) does not have it yet; the remote is asked in bulk, \
not once per file. An output that differs from its record, or is nowhere here, is listed and the \
exit status is 1. Commit and push pipeline.lock and .manifest.json with git as usual: they say \
which objects a clone pulls.`;
  static override strict = false;
  static override args = { stages: Args.string({ ignoreStdin: true, description: 'stages whose outputs to push (default: all); an out path names its stage' }) };
  static override flags = {
    glob: globFlag,
    remote: remoteFlag,
    jobs: transferJobsFlag,
    'dry-run': Flags.boolean({ char: 'n', description: 'print what would be uploaded; upload nothing' }),
  };
  static override examples = [
    '<%= config.bin %> push',
    '<%= config.bin %> push data/features.csv   # the outputs of the stage that writes it',
    "<%= config.bin %> push --glob 'train-*'",
    '<%= config.bin %> push train --dry-run',
    '<%= config.bin %> push -r s3://team-bucket/weather -j 32',
    'DVCL_REMOTE=/mnt/share/dvcl <%= config.bin %> push --json',
  ];

  async run(): Promise<TransferResult> {
    const { argv, flags } = await this.parse(Push);
    const { push } = await import('../core/services/push.js');
    const { reportTransfer, transferProgress } = await import('../cli/render-transfer.js');
    const r = await push({
      cwd: process.cwd(), targets: argv as string[], glob: flags.glob, remote: flags.remote, jobs: flags.jobs, dryRun: flags['dry-run'],
      onProgress: transferProgress(this.jsonEnabled(), 'pushed'), onWarning: (m) => this.note(`warning: ${m}`),
    });
    return reportTransfer({ json: this.jsonEnabled(), log: (m) => this.log(m) }, r, { done: 'uploaded', would: 'to upload', skipped: 'already on the remote' });
  }
}
