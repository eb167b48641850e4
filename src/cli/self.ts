import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { shellQuote } from '../core/template.js';

function self(): { node: string; bin: string } {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return { node: process.execPath, bin: fs.realpathSync(path.resolve(here, '../../bin/run.js')) };
}

/** How git hooks call this very dvcl: absolute node and bin/run.js, shell-quoted. */
export function driverCommand(): string {
  const { node, bin } = self();
  return `${shellQuote(node)} ${shellQuote(bin)}`;
}

/**
 * This node and dvcl while both exist, else a `dvcl` on PATH, else git's own line merge (exit 1):
 * a driver that cannot run leaves the normal conflict, not a silently unmerged file.
 */
export function mergeDriverCommand(): string {
  const { node, bin } = self();
  const args = 'merge-driver %O %A %B %P';
  return `n=${shellQuote(node)} b=${shellQuote(bin)}; if [ -x "$n" ] && [ -f "$b" ]; then exec "$n" "$b" ${args}; `
    + `elif command -v dvcl >/dev/null 2>&1; then exec dvcl ${args}; `
    + `else echo "dvcl merge driver: neither $n nor a dvcl on PATH: leaving a normal conflict (run dvcl init)" >&2; git merge-file -L ours -L base -L theirs %A %O %B; exit 1; fi`;
}
