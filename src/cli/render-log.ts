import chalk from 'chalk';
import { showValue } from '../core/util/exact.js';
import type { EntryChange, LogResult, StageChange } from '../core/services/log.js';

const short = (h: string | null) => (h === null ? 'none' : h.replace(/^([a-z0-9]+:[0-9a-f]{8})[0-9a-f]+$/, '$1…'));
const val = (v: unknown) => (v === null || v === undefined ? 'none' : showValue(v));

export function describeChange(c: EntryChange): string {
  switch (c.code) {
    case 'cmd_changed': return `cmd ${val(c.old)} → ${val(c.new)}`;
    case 'dep_changed': return c.old === null ? `dep ${c.path} added` : c.new === null ? `dep ${c.path} removed` : `dep ${c.path} ${short(c.old)} → ${short(c.new)}`;
    case 'param_changed': return `param ${c.file}:${c.key} ${val(c.old)} → ${val(c.new)}`;
    case 'out_changed': return c.old === null ? `out ${c.path} added` : c.new === null ? `out ${c.path} removed` : `out ${c.path} ${short(c.old)} → ${short(c.new)}`;
    case 'items_changed': return `items ${c.old?.count ?? 0} → ${c.new?.count ?? 0}${c.old && c.new && c.old.count === c.new.count ? ' (some changed)' : ''}`;
  }
}

function stageLine(s: StageChange): string {
  const where = s.git?.commit ? ` (at ${s.git.commit.slice(0, 10)}${s.git.branch ? ` on ${s.git.branch}` : ''}${s.git.dirty ? ', with uncommitted changes' : ''})` : '';
  const what = { added: 'first entry', modified: 'changed', removed: 'removed', rerun: 're-run, same result' }[s.change];
  return `  ${chalk.bold(s.name)}: ${what}${s.run ? `, run ${s.run}${where}` : ''}`;
}

/** git-log-like text: each commit, then the stage entries it changed and how. */
export function logText(r: LogResult): string {
  if (r.commits.length === 0) return r.stage ? `No commit changed the lock entry of stage ${r.stage}.` : 'No commit changed pipeline.lock yet.';
  const lines: string[] = [];
  for (const c of r.commits) {
    if (lines.length) lines.push('');
    lines.push(`${chalk.yellow(`commit ${c.commit}`)}`, `Author: ${c.author}`, `Date:   ${c.date}`, '', `    ${c.subject}`, '');
    for (const s of c.stages) {
      lines.push(stageLine(s));
      if (s.change === 'added') {
        const n = (k: EntryChange['code']) => s.changes.filter((x) => x.code === k).length;
        lines.push(`      ${n('dep_changed')} deps, ${n('param_changed')} params, ${n('out_changed')} outs${s.changes.some((x) => x.code === 'items_changed') ? ', items' : ''}`);
      } else for (const ch of s.changes) lines.push(`      ${describeChange(ch)}`);
    }
  }
  return lines.join('\n');
}
