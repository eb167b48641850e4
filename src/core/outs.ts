import fs from 'node:fs';
import path from 'node:path';
import { oneLine } from './errors.js';
import { abs, isInside } from './paths.js';

/** The project's real path, per root: it does not change while dvcl runs. */
const realRoots = new Map<string, string>();

/**
 * Check that an out's folder stays inside the project (a link may lead out of it), then remove
 * the out unless `persist`: dvcl never deletes, nor creates folders, through such a link.
 */
export function clearOut(root: string, rel: string, persist: boolean): void {
  let realRoot = realRoots.get(root);
  if (realRoot === undefined) realRoots.set(root, (realRoot = fs.realpathSync(root)));
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
  if (!isInside(real, realRoot)) throw new Error(oneLine(`refusing to write ${rel}: its folder resolves outside the project (${real})`));
  if (dir === parent && !persist) removeOut(path.join(real, path.basename(rel)));
}

/** Remove a file, link or folder if it exists: one lstat when there is nothing to remove. */
function removeOut(file: string): void {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!st) return;
  if (st.isDirectory()) fs.rmSync(file, { recursive: true, force: true });
  else fs.unlinkSync(file);
}

/**
 * Before a stage or item runs: its outs cleared (see {@link clearOut}) and their folders created.
 * `checked` (one per stage run) holds the folders already checked and created, so thousands of
 * items writing into one folder check it once.
 */
export function prepareOuts(root: string, outs: string[], persist: boolean, checked?: Set<string>): void {
  for (const o of outs) {
    const folder = path.dirname(abs(root, o));
    if (checked?.has(folder)) {
      if (!persist) removeOut(abs(root, o));
      continue;
    }
    clearOut(root, o, persist);
    fs.mkdirSync(folder, { recursive: true });
    checked?.add(folder);
  }
}
