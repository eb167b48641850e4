import { Flags } from '@oclif/core';
import { DvclCommand } from '../cli/base.js';
import type { GcResult } from '../core/services/gc.js';

export default class Gc extends DvclCommand {
  static override summary = 'Delete stored objects that nothing refers to';
  static override description = `Deletes the objects of the local cache (.dvcl/objects/) that no pipeline.lock or \
.manifest.json in scope refers to: the working tree's, or with --all-commits those of every commit \
of every branch and tag. With --remote, also the remote's (settings.remote, DVCL_REMOTE or -r), \
but never an object younger than 24 hours: another clone may have pushed it for a lock it has not \
committed yet. Also removes the temporary files that a killed dvcl left in the cache, and the local \
run cache entries (.dvcl/runs/) that name objects it deleted (an items entry keeps its other items). \
With --remote, the remote's run cache entries whose objects are gone, and shard fragments of a \
commit whose gather is committed, go too (older than 24 hours).`;
  static override flags = {
    remote: Flags.boolean({ description: 'also delete unreferenced objects of the remote (older than 24 h)' }),
    'remote-url': Flags.string({ char: 'r', description: 'the remote to clean (over settings.remote and DVCL_REMOTE)' }),
    'all-commits': Flags.boolean({ char: 'A', description: 'keep what any commit of any branch or tag refers to (default: the working tree only)' }),
    'dry-run': Flags.boolean({ char: 'n', description: 'count what would be deleted; delete nothing' }),
  };
  static override examples = [
    '<%= config.bin %> gc --dry-run',
    '<%= config.bin %> gc --all-commits',
    '<%= config.bin %> gc --remote --all-commits --dry-run --json',
  ];

  async run(): Promise<GcResult> {
    const { flags } = await this.parse(Gc);
    const { gc } = await import('../core/services/gc.js');
    const r = await gc({
      cwd: process.cwd(), remote: flags.remote, remoteUrl: flags['remote-url'], allCommits: flags['all-commits'], dryRun: flags['dry-run'],
      onWarning: (m) => this.note(`warning: ${m}`),
    });
    if (!this.jsonEnabled()) this.log((await import('../cli/render-transfer.js')).gcText(r));
    return r;
  }
}
