import fs from 'node:fs';
import path from 'node:path';
import { abs, isInside } from './paths.js';

/**
 * Check that an out's folder stays inside the project (a link may lead out of it), then remove
 * the out unless `persist`: dvcl never deletes, nor creates folders, through such a link.
 */
export function clearOut(root: string, rel: string, persist: boolean): void {
  const realRoot = fs.realpathSync(root);
  const parent = path.dirname(abs(root, rel));
  // The nearest folder that exists: a link on the way may lead out of the project even where the
  // rest of the path is still to be created (by prepareOuts, through that link).
  let dir = parent;
  let real: string | null = null;
  while (real === null) {
    try {
      real = fs.realpathSync(dir);
    } catch {
      if (path.dirname(dir) === dir) return;
      dir = path.dirname(dir);
    }
  }
  if (!isInside(real, realRoot)) throw new Error(`refusing to write ${rel}: its folder resolves outside the project (${real})`);
  if (dir === parent && !persist) fs.rmSync(path.join(real, path.basename(rel)), { recursive: true, force: true });
}

/** Before a stage or item runs: its outs cleared (see {@link clearOut}) and their folders created. */
export function prepareOuts(root: string, outs: string[], persist: boolean): void {
  for (const o of outs) {
    clearOut(root, o, persist);
    fs.mkdirSync(path.dirname(abs(root, o)), { recursive: true });
  }
}
