import fs from 'node:fs';
import path from 'node:path';
import { gitText } from '../git/git.js';
import { LOCK_FILE } from '../ledger/lock.js';
import { MANIFEST_FILE } from '../ledger/manifest.js';

const git = (root: string, args: string[], input?: string) => gitText(args, { cwd: root, input });

/** What makes a clone share less than the team thinks: a ledger git ignores, or `merge=dvcl` without a working driver. */
export async function cloneWarnings(root: string): Promise<string[]> {
  let attrs = '';
  try {
    attrs = fs.readFileSync(path.join(root, '.gitattributes'), 'utf8');
  } catch { /* no attributes: no driver expected */ }
  const usesDriver = /\bmerge=dvcl\b/.test(attrs);
  const [ignored, driver] = await Promise.all([
    git(root, ['check-ignore', '-v', '-z', '--stdin'], `${LOCK_FILE}\0${MANIFEST_FILE}\0`),
    usesDriver ? git(root, ['config', '--get', 'merge.dvcl.driver']) : Promise.resolve(null),
  ]);
  const warnings: string[] = [];
  const f = ignored.split('\0');
  for (let i = 0; i + 3 < f.length; i += 4) {
    const [source, line, pattern, file] = f.slice(i, i + 4);
    warnings.push(`${file} is ignored by git (${source}:${line}: ${pattern}): it is never committed, so teammates share nothing of it; remove that line, or \`git add -f ${file}\``);
  }
  if (driver === '') {
    warnings.push('the dvcl merge driver is not registered in this clone: merging pipeline.lock or .manifest.json will conflict line by line; run `dvcl init` once');
  } else if (driver) {
    const missing = driverPaths(driver).filter((p) => !fs.existsSync(p));
    if (missing.length) {
      warnings.push(`the dvcl merge driver registered in this clone points to ${missing.join(' and ')}, which no longer exists: run \`dvcl init\` again`);
    }
  }
  return warnings;
}

export function driverPaths(cmd: string): string[] {
  return [...cmd.matchAll(/'(\/(?:[^']|'\\'')*)'|(?:^|[\s=])(\/[^\s;'"]+)/g)].map((m) => (m[1] ?? m[2]).replace(/'\\''/g, "'"));
}
