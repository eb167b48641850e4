import { Args, Flags } from '@oclif/core';
import { DvclCommand } from '../cli/base.js';
import type { StatusReport } from '../core/status/reasons.js';

export default class Status extends DvclCommand {
  static override summary = 'Say which stages are stale and why';
  static override description = `Compares each stage with its entry in pipeline.lock: command, deps (by content hash), \
params and outs; per-item stages also by their items in .manifest.json. Changes nothing and \
takes no lock. Stages are listed in dependency order; with STAGE names, those and their upstream.`;
  static override strict = false;
  static override args = { stages: Args.string({ description: 'stages to check (default: all)' }) };
  static override flags = {
    check: Flags.boolean({ description: 'exit 1 when anything is stale or failed (for CI and hooks)' }),
  };
  static override examples = [
    '<%= config.bin %> status',
    '<%= config.bin %> status report --json',
    '<%= config.bin %> status --check   # in CI: fails when pipeline.lock is not up to date',
  ];

  async run(): Promise<StatusReport> {
    const { argv, flags } = await this.parse(Status);
    const { status } = await import('../core/services/status.js');
    const report = await status({ cwd: process.cwd(), targets: argv as string[], onWarning: (m) => this.note(`warning: ${m}`) });
    if (!this.jsonEnabled()) {
      const { statusText } = await import('../cli/render-status.js');
      this.log(statusText(report, (argv as string[]).length > 0));
    }
    if (flags.check && !report.up_to_date) process.exitCode = 1;
    return report;
  }
}
