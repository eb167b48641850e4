import { oneLine } from '../core/errors.js';
import type { GcResult } from '../core/services/gc.js';
import type { TransferResult } from '../core/services/sharing.js';

/** A progress line on stderr: only on a terminal, not in CI, not with --json (SPEC §7). */
export function transferProgress(json: boolean, verb: string): ((done: number, total: number, bytes: number) => void) | undefined {
  const err = process.stderr;
  if (json || !err.isTTY || process.env.CI || process.env.TERM === 'dumb') return undefined;
  let last = 0;
  return (done, total, bytes) => {
    const now = Date.now();
    if (now - last < 100 && done < total) return;
    last = now;
    const width = 24;
    const filled = Math.round((done / Math.max(total, 1)) * width);
    err.write(`\r\x1b[K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${verb} ${done}/${total} files, ${mib(bytes)}`);
    if (done >= total) err.write('\r\x1b[K');
  };
}

function mib(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** The human result of push, pull and checkout: failures one per line (the first 50), then a summary. */
export function transferText(r: TransferResult, verbs: { done: string; would: string; skipped: string }): string {
  const lines: string[] = [];
  for (const f of r.failed.slice(0, 50)) lines.push(`✘ ${oneLine(f.path)}: ${oneLine(f.reason)}`);
  if (r.failed.length > 50) lines.push(`… and ${r.failed.length - 50} more (\`--json\` lists them)`);
  if (r.dry_run) for (const p of (r.placed ?? []).slice(0, 50)) lines.push(`would place ${oneLine(p)}`);
  for (const p of (r.removed ?? []).slice(0, 50)) lines.push(`${r.dry_run ? 'would remove' : 'removed'} ${oneLine(p)} (dvcl's, not in the recorded folder)`);
  const n = (x: number) => `${x} file${x === 1 ? '' : 's'}`;
  const where = r.remote ? ` (${oneLine(r.remote)})` : '';
  const head = r.dry_run ? `Dry run: ${n(r.transferred)} ${verbs.would}${where}, ${r.skipped} ${verbs.skipped}; nothing was changed.`
    : `${n(r.transferred)} ${verbs.done}${where}, ${mib(r.bytes)}; ${r.skipped} ${verbs.skipped}.`;
  lines.push(head + (r.failed.length ? ` ${r.failed.length} failed.` : ''));
  return lines.join('\n');
}

/** What push, pull and checkout end with: the text (unless --json), and exit 1 when anything failed. */
export function reportTransfer(cmd: { json: boolean; log(msg: string): void }, r: TransferResult, verbs: { done: string; would: string; skipped: string }): TransferResult {
  if (!cmd.json) cmd.log(transferText(r, verbs));
  if (r.failed.length) process.exitCode = 1;
  return r;
}

export function gcText(r: GcResult): string {
  const verb = r.dry_run ? 'would delete' : 'deleted';
  const objects = (n: number) => `${n} object${n === 1 ? '' : 's'}`;
  const mib = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
  const lines = [`local cache: ${verb} ${objects(r.local.removed)} (${mib(r.local.bytes)}), kept ${r.local.kept}${r.local.temporaries ? `; ${r.local.temporaries} leftover temporar${r.local.temporaries === 1 ? 'y' : 'ies'}` : ''}${r.local.runs ? `; ${r.local.runs} run cache entr${r.local.runs === 1 ? 'y' : 'ies'} naming them` : ''}`];
  if (r.remote) lines.push(`remote ${r.remote.url}: ${verb} ${objects(r.remote.removed)} (${mib(r.remote.bytes)}), kept ${r.remote.kept}${r.remote.too_young ? `, ${r.remote.too_young} younger than 24 h kept` : ''}${r.remote.fragments ? `; ${r.remote.fragments} gathered shard fragment${r.remote.fragments === 1 ? '' : 's'}` : ''}${r.remote.runs ? `; ${r.remote.runs} run cache entr${r.remote.runs === 1 ? 'y' : 'ies'} naming deleted objects` : ''}`);
  if (r.dry_run) lines.push('Dry run: nothing was deleted.');
  return lines.join('\n');
}
