import chalk from 'chalk';
import type { Reporter, ReproResult, StageResult } from '../core/run/types.js';
import { oneLine } from '../core/errors.js';
import { describeReason } from './render-status.js';

/** On stderr: stage starts, output prefixed with the stage name, a live bar on a terminal (else a line every few seconds). */
export function humanReporter(opts: { json: boolean; dryRun?: boolean }): Reporter & { finishLine(): void } {
  const err = process.stderr;
  // TERM=dumb: a terminal that cannot move the cursor gets the plain line every few seconds.
  const live = err.isTTY && !process.env.CI && !opts.json && process.env.TERM !== 'dumb';
  const every = live ? 100 : 5000;
  let barShown = false;
  const clearBar = () => {
    if (barShown) { err.write('\r\x1b[K'); barShown = false; }
  };
  const progress = new Map<string, { start: number; last: number }>();
  return {
    stageStart(name, ev, items) {
      clearBar();
      if (opts.json) return;
      const why = ev.status.reasons.map(describeReason).join('; ');
      err.write(`${chalk.bold(`Running ${name}`)}${items !== undefined ? ` (${items} item${items === 1 ? '' : 's'})` : ''}${why ? chalk.dim(`: ${why}`) : ''}\n`);
      if (items !== undefined) progress.set(name, { start: Date.now(), last: 0 });
    },
    stageOutput(name, _stream, line) {
      clearBar();
      // Also with --json: stdout holds only the JSON document, and a stage's output explains its failure.
      err.write(`${chalk.dim(`[${name}]`)} ${line}\n`);
    },
    itemDone(stage, done, total, failed) {
      const p = progress.get(stage);
      if (!p || opts.json) return;
      const now = Date.now();
      if (now - p.last < every && done < total) return;
      p.last = now;
      const secs = (now - p.start) / 1000;
      const rate = done / Math.max(secs, 0.001);
      const eta = rate > 0 ? Math.round((total - done) / rate) : 0;
      const text = `${stage}: ${done}/${total} items${failed ? `, ${failed} failed` : ''}, ${rate.toFixed(1)}/s${done < total ? `, ETA ${eta}s` : ''}`;
      if (live) {
        const width = 24;
        const filled = Math.round((done / Math.max(total, 1)) * width);
        err.write(`\r\x1b[K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`);
        barShown = done < total;
        if (!barShown) err.write('\n');
      } else err.write(`${text}\n`);
    },
    stageEnd(r: StageResult) {
      clearBar();
      if (opts.json) return;
      // A dry run's plan is its result (`dvcl repro -n > plan.txt`); a run's lines are progress.
      (opts.dryRun ? process.stdout : err).write(`${resultLine(r, opts.dryRun)}\n`);
    },
    warn(msg) {
      clearBar();
      err.write(`${chalk.yellow('warning:')} ${oneLine(msg)}\n`);
    },
    info(msg) {
      clearBar();
      err.write(`${oneLine(msg)}\n`);
    },
    finishLine: clearBar,
  };
}

function resultLine(r: StageResult, dry?: boolean): string {
  const items = r.items ? ` [${r.items.ran} of ${r.items.total} items run${r.items.restored ? `, ${r.items.restored} restored` : ''}${r.items.failed ? `, ${r.items.failed} failed` : ''}${r.items.given_up ? `, ${r.items.given_up} given up` : ''}${orphans(r, dry)}]` : '';
  return resultHead(r, items, dry) + (dry ? orphanLines(r) : '');
}

function orphans(r: StageResult, dry?: boolean): string {
  const n = r.removed_outputs?.length ?? 0;
  const k = r.kept_outputs?.length ?? 0;
  const s = (x: number) => (x === 1 ? '' : 's');
  return `${n ? `, ${n} orphaned output${s(n)} ${dry ? 'to remove' : 'removed'}` : ''}${k ? `, ${k} kept` : ''}`;
}

/** A dry run names the outputs it would remove or keep: the first 10 of each. */
function orphanLines(r: StageResult): string {
  const list = (paths: string[] | undefined, verb: string, why = '') => {
    const shown = (paths ?? []).slice(0, 10).map((p) => `\n    ${verb} ${oneLine(p)}${why}`).join('');
    const more = (paths?.length ?? 0) - 10;
    return shown + (more > 0 ? `\n    … and ${more} more (\`--json\` lists them)` : '');
  };
  return list(r.removed_outputs, 'would remove') + list(r.kept_outputs, 'would keep', ' (not the file dvcl recorded for its item)');
}

function resultHead(r: StageResult, items: string, dry?: boolean): string {
  const secs = r.duration_ms >= 100 ? ` in ${(r.duration_ms / 1000).toFixed(1)}s` : '';
  switch (r.result) {
    case 'ran': return `${chalk.green('✔')} ${r.name}${items}${secs}`;
    case 'restored': return `${chalk.green('✔')} ${r.name} restored from the run cache (${r.restored_from === 'remote' ? 'remote' : 'local cache'})${items}`;
    case 'skipped': if (r.frozen) return dry ? `  ${r.name}: frozen (not run)` : chalk.dim(`- ${r.name}: frozen (not run)`);
      return dry ? `  ${r.name}: up to date${items}` : `${chalk.dim(`- ${r.name}: up to date${items}`)}`;
    case 'would_run': return r.may_skip
      ? `${chalk.yellow('→')} ${r.name} may run: ${r.reasons.map(describeReason).join('; ') || 'an upstream stage runs'} (skipped if the upstream outs come out the same)`
      : `${chalk.yellow('→')} ${r.name} would run${items}: ${r.reasons.map(describeReason).join('; ')}`;
    case 'failed': return `${chalk.red('✘')} ${r.name} failed${items}${r.error ? `: ${r.error.split('\n')[0]}` : ''}${r.error?.includes('\n') ? `\n${indent(r.error.split('\n').slice(1).join('\n'))}` : ''}`;
    case 'not_run': return `${chalk.dim(`- ${r.name}: not run (${r.error ?? 'skipped'})`)}`;
  }
}

function indent(s: string): string {
  return s.split('\n').map((l) => `    ${l}`).join('\n');
}

export function summaryText(res: ReproResult, dry?: boolean): string {
  const n = (k: StageResult['result']) => res.stages.filter((s) => s.result === k).length;
  if (dry) {
    const maybe = res.stages.filter((s) => s.may_skip).length;
    return n('would_run') === 0 ? 'Nothing to do: everything is up to date.'
      : `${n('would_run')} stage(s) would run${maybe ? ` (${maybe} of them only if their upstream outs change)` : ''}; nothing was changed (dry run).`;
  }
  if (res.interrupted) return `Interrupted: ${n('ran')} stage(s) completed before the ${res.interrupted}; finished items are kept.`;
  if (n('ran') === 0 && n('restored') === 0 && res.ok) return 'Nothing to do: everything is up to date.';
  const parts = [`${n('ran')} ran`, ...(n('restored') ? [`${n('restored')} restored`] : []), `${n('skipped')} up to date`];
  if (n('failed')) parts.push(`${n('failed')} failed`);
  if (n('not_run')) parts.push(`${n('not_run')} not run`);
  return `${res.ok ? 'Done' : 'Failed'}: ${parts.join(', ')}.`;
}
