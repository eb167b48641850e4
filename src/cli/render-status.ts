import chalk from 'chalk';
import { oneLine } from '../core/errors.js';
import { showValue } from '../core/util/exact.js';
import type { Reason, StageStatus, StatusReport } from '../core/status/reasons.js';

const short = (h: string | null) => (h === null ? 'none' : h.replace(/^([a-z0-9]+:[0-9a-f]{8})[0-9a-f]+$/, '$1…'));
const val = (v: unknown) => (v === null || v === undefined ? 'none' : showValue(v));

/** Paths and keys are the user's, and may hold a newline. */
export function describeReason(r: Reason): string {
  return oneLine(describe(r));
}

function describe(r: Reason): string {
  switch (r.code) {
    case 'never_run': return 'never run';
    case 'cmd_changed': return 'command changed';
    case 'dep_changed': return r.new === null ? `dep ${r.path} removed or not yet produced` : r.old === null ? `dep ${r.path} is new` : `dep ${r.path} changed (${short(r.old)} → ${short(r.new)})`;
    case 'dep_missing': return `dep ${r.path} is missing and no stage produces it`;
    case 'param_changed': return `param ${r.key} changed (${val(r.old)} → ${val(r.new)})`;
    case 'out_missing': return `out ${r.path} is missing${r.restorable ? ' (restorable: `dvcl checkout` or `dvcl pull` brings it back without running anything)' : r.ignored ? ' (git-ignored, so clones do not get it: `dvcl pull` fetches it when it was pushed, `dvcl repro` re-creates it)' : ''}`;
    case 'out_changed': return r.new === null ? `out ${r.path} is no longer declared` : r.old === null ? `out ${r.path} is new` : `out ${r.path} was modified`;
    case 'upstream_stale': return `upstream stage ${r.stage} is not up to date`;
    case 'always_changed': return 'marked always_changed';
    case 'items_pending': return r.outputs_missing === r.count
      ? `${r.count} item output${r.count === 1 ? '' : 's'} missing${r.restorable ? ' (restorable: `dvcl checkout` or `dvcl pull`)' : ''}`
      : `${r.count} item${r.count === 1 ? '' : 's'} new or changed${r.outputs_missing ? `, ${r.outputs_missing} of them only missing ${r.outputs_missing === 1 ? 'its output' : 'their outputs'}` : ''}`;
    case 'items_failed': return `${r.count} failed item${r.count === 1 ? '' : 's'} to retry${r.given_up ? `, ${r.given_up} given up` : ''}`;
    case 'items_dropped': return `${r.count} item${r.count === 1 ? '' : 's'} to drop: ${r.count === 1 ? 'its input is' : 'their inputs are'} gone (deleted, renamed or no longer matched)`;
    case 'last_run_failed': return `last run failed: ${r.reason.split('\n')[0]}`;
    case 'forced': return 'forced';
  }
}

function stateLabel(s: StageStatus): string {
  switch (s.state) {
    case 'up_to_date': return chalk.green('up to date');
    case 'stale': return chalk.yellow('stale');
    case 'failed': return chalk.red('failed');
    case 'frozen': return chalk.cyan('frozen');
  }
}

/** Reasons grouped under each stage that is not up to date, and a one-line summary. */
export function statusText(report: StatusReport & { missing_only?: string[] }, named = false): string {
  if (report.stages.length === 0) return 'no stages in .pipelinerc';
  const allowed = report.missing_only?.length ?? 0;
  if (report.up_to_date) {
    const all = `Everything is up to date (${report.stages.length} stage${report.stages.length === 1 ? '' : 's'})`;
    return allowed ? `${all}, but for recorded outputs missing here in ${allowed} (--allow-missing): \`dvcl pull\` fetches them.` : `${all}.`;
  }
  const lines: string[] = [];
  const counts = { stale: 0, failed: 0 };
  for (const s of report.stages) {
    if (s.state === 'up_to_date' || s.state === 'frozen') continue;
    counts[s.state]++;
    const items = s.items ? `  (${s.items.success}/${s.items.total} items done${s.items.failed ? `, ${s.items.failed} failed` : ''})` : '';
    lines.push(`${chalk.bold(s.name)}: ${stateLabel(s)}${items}`);
    for (const r of s.reasons) lines.push(`    ${describeReason(r)}`);
    lines.push(...failedItemLines(s, named ? 20 : 5));
  }
  const ok = report.stages.length - counts.stale - counts.failed;
  const restorable = report.stages.some((s) => s.reasons.some((r) => 'restorable' in r && r.restorable));
  lines.push('', `${counts.stale} stale, ${counts.failed} failed, ${ok} up to date. Run ${restorable ? '`dvcl pull` (or `dvcl checkout`) to restore the missing outputs without running anything, or ' : ''}\`dvcl repro\`${counts.failed ? ' or `dvcl retry --only-failed`' : ''}.`);
  return lines.join('\n');
}

function failedItemLines(s: StageStatus, max: number): string[] {
  const failed = s.failed_items ?? [];
  const lines = failed.slice(0, max).map((f) => `    ✘ ${oneLine(f.item)}: ${oneLine(f.reason.split('\n')[0])}${f.given_up ? ` (given up after ${f.attempts} attempts)` : ''}`);
  const more = (s.items?.failed ?? failed.length) - lines.length;
  if (more > 0) lines.push(`    … and ${more} more failed item${more === 1 ? '' : 's'} (\`dvcl status ${s.name} --json\` lists them; reasons in .manifest.json)`);
  return lines;
}
