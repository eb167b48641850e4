import fs from 'node:fs';
import { DvclError } from '../errors.js';
import { mergeTexts, type MergeDecision, type MergeTextResult } from './merge.js';

// Git takes OURS (%A) as the merged file on exit 0; nothing is written unless all three parse.
export function mergeFiles(opts: { base: string; ours: string; theirs: string; path?: string }): MergeTextResult {
  const shown = opts.path ?? opts.ours;
  let r: MergeTextResult;
  try {
    r = mergeTexts({ base: read(opts.base, true), ours: read(opts.ours, false)!, theirs: read(opts.theirs, false)!, path: opts.path });
  } catch (e) {
    if (!(e instanceof DvclError)) throw e;
    throw new DvclError('corrupt', `cannot merge ${shown}: ${e.message}`, {
      exit: 1,
      suggestions: [
        `git leaves the conflict: keep one side (\`git checkout --ours -- ${shown}\` or \`--theirs\`), fix it, then \`dvcl status\``,
      ],
    });
  }
  fs.writeFileSync(opts.ours, r.text);
  return r;
}

/** The base may be missing (a file added on both branches); the other two must exist. */
function read(file: string, optional: boolean): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (optional && (e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DvclError('io', `cannot read ${file}: ${(e as Error).message}`, { exit: 1 });
  }
}

export function describeDecisions(file: string, decisions: MergeDecision[]): string[] {
  const lines: string[] = [];
  const items = new Map<string, number>();
  for (const d of decisions) {
    if (d.what === 'item' && !d.removed) items.set(d.stage!, (items.get(d.stage!) ?? 0) + 1);
    else if (d.what === 'stage' || d.what === 'item') {
      const what = d.what === 'stage' ? `stage ${d.key}` : `item ${d.key} of stage ${d.stage}`;
      lines.push(d.removed
        ? `${file}: ${what} was removed on ${d.removed} but changed on ${d.winner}: kept the changed entry`
        : `${file}: ${what} changed on both branches: took ${d.winner} (the later run)`);
    }
  }
  for (const [stage, n] of items) {
    lines.push(`${file}: stage ${stage}: ${n} item${n === 1 ? '' : 's'} changed on both branches: took the later record of each`);
  }
  return lines;
}
