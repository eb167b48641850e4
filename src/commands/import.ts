import { Args, Flags } from '@oclif/core';
import { DvclCommand } from '../cli/base.js';
import type { ImportResult } from '../core/services/import.js';

export default class Import extends DvclCommand {
  static override summary = "Write a .pipelinerc from DVC's dvc.yaml";
  static override description = `Translates the stages of a dvc.yaml (deps, outs, metrics and plots files, params, wdir, \
frozen, always_changed, foreach/do, matrix, vars and \${…}) into an equivalent .pipelinerc beside it. What dvcl cannot \
do the same way is listed by line with what to do instead, and the exit status is then 1 (the file is written all the \
same). Given dvc.lock, imports the dvc.yaml beside it; recorded runs are not carried over. Never replaces an existing \
.pipelinerc without --force.`;
  static override args = { file: Args.string({ description: 'the dvc.yaml (or dvc.lock) to import', default: 'dvc.yaml' }) };
  static override flags = {
    out: Flags.string({ char: 'o', description: 'the file to write (default: .pipelinerc beside dvc.yaml)' }),
    force: Flags.boolean({ char: 'f', description: 'replace an existing .pipelinerc' }),
    'dry-run': Flags.boolean({ char: 'n', description: 'print the .pipelinerc on stdout; write nothing' }),
  };
  static override examples = [
    '<%= config.bin %> import                      # dvc.yaml here → .pipelinerc',
    '<%= config.bin %> import --dry-run            # print it, write nothing',
    '<%= config.bin %> import sub/dvc.yaml -o .pipelinerc   # paths rebased onto this folder',
    '<%= config.bin %> import dvc.lock --force --json',
  ];

  async run(): Promise<ImportResult> {
    const { args, flags } = await this.parse(Import);
    const { importDvc } = await import('../core/services/import.js');
    const r = importDvc({ cwd: process.cwd(), file: args.file, out: flags.out, force: flags.force, dryRun: flags['dry-run'] });
    if (!this.jsonEnabled()) {
      for (const d of r.dropped) {
        this.note(`${d.line === null ? d.file : `${d.file}:${d.line}:${d.col}`}: ${d.key}: not translated: ${d.message}`);
        this.note(`  instead: ${d.instead}`);
      }
      for (const h of r.hints) this.note(`hint: ${h}`);
      if (flags['dry-run']) this.log(r.text.trimEnd());
      else this.log(`wrote ${r.out}: ${r.stages.length} stage${r.stages.length === 1 ? '' : 's'} from ${r.source}${r.dropped.length ? `; ${r.dropped.length} thing${r.dropped.length === 1 ? '' : 's'} not translated (listed above)` : ''}`);
    }
    if (r.dropped.length) process.exitCode = 1;
    return r;
  }
}
