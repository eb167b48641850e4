import fs from 'node:fs';
import path from 'node:path';
import { oneLine } from '../errors.js';
import { abs, isInside } from '../util/paths.js';
import { reservedOut } from '../config/reserved.js';

const realRoots = new Map<string, string>();

function realRootOf(root: string): string {
  let real = realRoots.get(root);
  if (real === undefined) realRoots.set(root, (real = fs.realpathSync(root)));
  return real;
}

/** On Linux `/proc/self/fd/N/name` resolves in that open directory whatever its path leads to: openat() for Node. */
const PROC_FD = process.platform === 'linux' && fs.existsSync('/proc/self/fd');
const O_DIR = fs.constants.O_RDONLY | (fs.constants.O_DIRECTORY ?? 0);

function outside(rel: string, real: string, verb: string): Error {
  return new Error(oneLine(`refusing to ${verb} ${rel}: its folder resolves outside the project (${real})`));
}

/** Run `fn` on the out's path through its opened folder, checked (at every use) inside the project; false: no folder. */
function inFolder(root: string, rel: string, fn: (file: string) => void = () => {}, verb = 'write'): boolean {
  const parent = path.dirname(abs(root, rel));
  let fd: number;
  try {
    fd = fs.openSync(parent, O_DIR);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  try {
    const real = PROC_FD ? fs.readlinkSync(`/proc/self/fd/${fd}`) : fs.realpathSync.native(parent);
    const realRoot = realRootOf(root);
    if (!isInside(real, realRoot)) throw outside(rel, real, verb);
    // Also where it really is: a folder may be a link to .git or .dvcl inside the project.
    const base = path.basename(rel);
    const where = real === realRoot ? base : `${real.slice(realRoot.length + 1)}/${base}`;
    const why = reservedOut(where);
    if (why) throw new Error(oneLine(`refusing to ${verb} ${rel}: ${where === rel ? 'it' : `it resolves to ${where}, which`} ${why}`));
    fn(PROC_FD ? `/proc/self/fd/${fd}/${base}` : path.join(real, base));
    return true;
  } finally {
    fs.closeSync(fd);
  }
}

/** Never removes or creates folders through a link leading out of the project: such an out is refused (thrown). */
export function prepareOuts(root: string, outs: string[], persist: boolean): void {
  for (const o of outs) {
    if (inFolder(root, o, (file) => { if (!persist) removeOut(file); })) continue;
    createFolder(root, o);
    // Created through a link that appeared since it was checked: refused, nothing removed (the folder is new).
    inFolder(root, o);
  }
}

/** After a command: its folder may have become a link out of the project; what was written there is not recorded. */
export function checkPlaced(root: string, rel: string): void {
  inFolder(root, rel, undefined, 'record');
}

function createFolder(root: string, rel: string): void {
  const parent = path.dirname(abs(root, rel));
  let dir = path.dirname(parent);
  let real: string | null = null;
  while (real === null) {
    try {
      real = fs.realpathSync.native(dir);
    } catch {
      if (path.dirname(dir) === dir) throw new Error(`cannot create the folder of ${rel}: no part of ${parent} exists`);
      dir = path.dirname(dir);
    }
  }
  if (!isInside(real, realRootOf(root))) throw outside(rel, real, 'write');
  fs.mkdirSync(parent, { recursive: true });
}

function removeOut(file: string): void {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!st) return;
  if (st.isDirectory()) fs.rmSync(file, { recursive: true, force: true });
  else fs.unlinkSync(file);
}

/** Remove a dropped item's output and the folders it leaves empty below `base` (the template's literal folder). */
export function removeOrphanOutput(root: string, rel: string, base: string): void {
  inFolder(root, rel, removeOut, 'remove');
  if (base === '.') return;
  for (let dir = path.posix.dirname(rel); dir !== base && isInside(dir, base); dir = path.posix.dirname(dir)) {
    try {
      // rmdir removes only an empty folder, and never a link's target.
      if (!inFolder(root, dir, (f) => fs.rmdirSync(f), 'remove')) return;
    } catch {
      return; // not empty, or not a plain folder inside the project: it stays, and so do its parents
    }
  }
}
