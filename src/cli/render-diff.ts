import chalk from 'chalk';
import { showValue } from '../core/util/exact.js';
import type { EntryChange } from '../core/ledger/entry-diff.js';
import type { FailedStage, ItemsDiff, StageDiff } from '../core/ledger/diff.js';
import type { DiffResult, DiffSide, ParamsDiffResult } from '../core/services/diff.js';
import { describeChange } from './render-log.js';

/** Item names listed per category unless `--all`. */
export const SHOWN_ITEMS = 10;

const label = (s: DiffSide) => (s.commit ? `${s.rev} (${s.commit.slice(0, 10)})` : s.rev);

function notes(r: { a: DiffSide; b: DiffSide }): string[] {
  return [r.a, r.b].filter((s) => !s.recorded).map((s) => `${s.rev}: no pipeline recorded there`);
}

function what(s: StageDiff): string {
  switch (s.change) {
    case 'added': return 'added';
    case 'removed': return 'removed';
    case 'rerun': return s.changes.length ? 're-run' : 're-run, same result';
  }
}

/** An added stage's entry in counts, as `log` shows a first entry; otherwise each change. */
function details(s: StageDiff): string[] {
  if (s.change === 'removed') return [];
  if (s.change === 'added') {
    const n = (k: EntryChange['code']) => s.changes.filter((x) => x.code === k).length;
    return [`${n('dep_changed')} deps, ${n('param_changed')} params, ${n('out_changed')} outs${s.changes.some((x) => x.code === 'items_changed') ? ', items' : ''}`];
  }
  return s.changes.map(describeChange);
}

const failure = (f: FailedStage) => `${f.newly ? 'failed' : 'still failed'}${f.reason ? ` (${f.reason})` : ''}`;

function itemsSummary(d: ItemsDiff): string {
  const failed = d.failed.length ? `, ${d.failed.length} failed${d.newly_failed ? ` (${d.newly_failed} newly)` : ''}` : '';
  return `${d.count.old} → ${d.count.new} items: ${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed${failed}`;
}

function names(list: string[], all: boolean): string {
  if (all || list.length <= SHOWN_ITEMS) return list.join(', ');
  return `${list.slice(0, SHOWN_ITEMS).join(', ')} … and ${list.length - SHOWN_ITEMS} more (--all lists them)`;
}

function totals(r: DiffResult): string {
  const n = (c: StageDiff['change']) => r.stages.filter((s) => s.change === c).length;
  return `${n('rerun')} re-run, ${n('added')} added, ${n('removed')} removed, ${r.unchanged} unchanged${r.failed.length ? `, ${r.failed.length} failed` : ''}`;
}

export function diffText(r: DiffResult, opts: { all?: boolean } = {}): string {
  const lines = [`${label(r.a)} → ${label(r.b)}`, ...notes(r)];
  if (r.stages.length === 0 && r.items.length === 0 && r.failed.length === 0) return [...lines, 'No stage changed.'].join('\n');
  for (const s of r.stages) {
    const runs = s.change === 'rerun' ? ` (run ${s.run.old} → ${s.run.new})` : '';
    lines.push(`  ${chalk.bold(s.name)}: ${what(s)}${runs}`, ...details(s).map((d) => `      ${d}`));
  }
  const failed = new Map(r.failed.map((f) => [f.name, f]));
  const withItems = new Set(r.items.map((d) => d.stage));
  for (const f of r.failed) if (!withItems.has(f.name)) lines.push(`  ${chalk.bold(f.name)}: ${failure(f)}`);
  for (const d of r.items) {
    const f = failed.get(d.stage);
    lines.push(`  ${chalk.bold(d.stage)}: ${f ? `${failure(f)}, ` : ''}${itemsSummary(d)}`);
    for (const k of ['added', 'removed', 'changed', 'failed'] as const) {
      if (d[k].length) lines.push(`      ${k}: ${names(d[k], opts.all ?? false)}`);
    }
  }
  lines.push(`Stages: ${totals(r)}`);
  return lines.join('\n');
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const tableRow = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;
const table = (head: string[], rows: string[][]) => [tableRow(head), tableRow(head.map(() => '---')), ...rows.map(tableRow)];

/** GitHub-flavoured Markdown, to paste into a pull request. */
export function diffMarkdown(r: DiffResult, opts: { all?: boolean } = {}): string {
  const out = [`**dvcl diff** \`${label(r.a)}\` → \`${label(r.b)}\`: ${totals(r)}`, ...notes(r).map((n) => `_${n}_`)];
  if (r.stages.length || r.failed.length) {
    const rows = [...r.stages.map((s) => [s.name, what(s), details(s).join('<br>')]), ...r.failed.map((f) => [f.name, f.newly ? 'failed' : 'still failed', f.reason ?? ''])];
    out.push('', ...table(['Stage', 'Change', 'Details'], rows));
  }
  if (r.items.length) {
    out.push('', ...table(['Stage', 'Items', 'Added', 'Removed', 'Changed', 'Failed'], r.items.map((d) => [
      d.stage, `${d.count.old} → ${d.count.new}`, String(d.added.length), String(d.removed.length), String(d.changed.length),
      d.failed.length ? `${d.failed.length}${d.newly_failed ? ` (${d.newly_failed} newly)` : ''}` : '0',
    ])));
    if (opts.all) {
      for (const d of r.items) {
        for (const k of ['added', 'removed', 'changed', 'failed'] as const) {
          if (d[k].length) out.push('', `<details><summary>${d.stage}: ${d[k].length} ${k}</summary>`, '', ...d[k].map((p) => `- \`${p}\``), '', '</details>');
        }
      }
    }
  }
  return out.join('\n');
}

const value = (v: unknown, present: boolean) => (present ? showValue(v) : '-');

function paramRows(r: ParamsDiffResult): string[][] {
  return r.params.map((p) => [p.file, p.key, value(p.old, p.change !== 'added'), value(p.new, p.change !== 'removed'), p.stages.join(', ')]);
}

/** Columns as `dvc params diff` prints them (Path, Param, old, new), and the stages that record the param. */
export function paramsText(r: ParamsDiffResult): string {
  const head = ['Path', 'Param', r.a.rev, r.b.rev, 'Stages'];
  const lines = notes(r);
  if (r.params.length === 0) return [...lines, `No param changed between ${label(r.a)} and ${label(r.b)}.`].join('\n');
  const rows = [head, ...paramRows(r)];
  const widths = head.map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return [...lines, ...rows.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join('  '))].join('\n');
}

export function paramsMarkdown(r: ParamsDiffResult): string {
  const lines = notes(r).map((n) => `_${n}_`);
  if (r.params.length === 0) return [...lines, `No param changed between \`${label(r.a)}\` and \`${label(r.b)}\`.`].join('\n');
  return [...lines, ...table(['Path', 'Param', r.a.rev, r.b.rev, 'Stages'], paramRows(r).map((row) => row.map((c, i) => (i === 2 || i === 3) && c !== '-' ? `\`${c}\`` : c)))].join('\n');
}
