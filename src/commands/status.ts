import { Args, Flags } from '@oclif/core';
import { DvclCommand } from '../cli/base.js';
import { globFlag } from '../cli/target-flags.js';
import type { StatusResult } from '../core/services/status.js';

export default class Status extends DvclCommand {
  static override summary = 'Say which stages are stale and why';
  static override description = `Compares each stage with its entry in pipeline.lock: command, deps (by content hash), \
params and outs; per-item stages also by their items in .manifest.json. Changes nothing and \
takes no lock. Stages are listed in dependency order; with targets (stage names, out paths, or \
with --glob patterns over stage names), those stages and their upstream.`;
  static override strict = false;
  // ignoreStdin (all commands' args): oclif reads a missing argument from a stdin that is not a
  // terminal, waiting up to 10 ms for it; `echo x | dvcl status` named stage x.
  static override args = { stages: Args.string({ ignoreStdin: true, description: 'stages to check (default: all)' }) };
  static override flags = {
    check: Flags.boolean({ description: 'exit 1 when anything is stale or failed (for CI and hooks)' }),
    glob: globFlag,
    'allow-missing': Flags.boolean({ description: 'do not count a stage as stale when its only reasons are recorded outputs missing here (outputs not committed: CI)' }),
  };
  static override examples = [
    '<%= config.bin %> status',
    '<%= config.bin %> status report --json',
    '<%= config.bin %> status data/features.csv   # the stage that writes it, and its upstream',
    "<%= config.bin %> status --glob 'train-*'",
    '<%= config.bin %> status --check   # in CI: fails when pipeline.lock is not up to date',
    '<%= config.bin %> status --check --allow-missing   # in CI, when outputs are pushed to a remote, not committed',
  ];

  async run(): Promise<StatusResult> {
    const { argv, flags } = await this.parse(Status);
    const { status } = await import('../core/services/status.js');
    const report = await status({ cwd: process.cwd(), targets: argv as string[], glob: flags.glob, allowMissing: flags['allow-missing'], onWarning: (m) => this.note(`warning: ${m}`) });
    if (!this.jsonEnabled()) {
      const { statusText } = await import('../cli/render-status.js');
      this.log(statusText(report, (argv as string[]).length > 0));
    }
    if (flags.check && !report.up_to_date) process.exitCode = 1;
    return report;
  }
}
