import fs from 'node:fs';
import path from 'node:path';
import type { IHasher } from 'hash-wasm';
import { oneLine } from '../errors.js';
import { type Hasher, type PathHash } from '../hashing/hash.js';
import { algorithmOf, createHasher, type HashAlgorithm } from '../hashing/algorithms.js';
import { nowNs, settled } from '../util/racy-clean.js';
import { prepareOuts } from './outs.js';
import { abs } from '../util/paths.js';
import { pidAlive } from '../util/process.js';
import { temporaryBeside } from './files.js';
import type { LocalCache } from './local-cache.js';
import type { RecordedOutput } from './recorded.js';
import { parseTree } from './tree.js';

/** An output, or a file of one, that could not be placed or sent, and why (`--json`'s `failed`). */
export interface Failure { path: string; reason: string }

/** What checkout and pull do to the workspace, decided before anything is written. */
export interface RestorePlan {
  place: { path: string; hash: string }[];
  /** Symlinks of a directory out to (re)create. */
  links: { path: string; target: string }[];
  /** dvcl's files (or, with --force, anything) in the way: removed before placing. */
  remove: string[];
  /** The user's files in the way (edited since dvcl placed or recorded them), or objects dvcl lacks. */
  failed: Failure[];
  upToDate: number;
}

export interface PlanContext {
  root: string;
  hasher: Hasher;
  /** Whether `hash` is content dvcl has recorded or placed (the local cache, the remote index): a file with it is dvcl's. */
  known(hash: string): boolean;
  /** A directory out's tree object, or null when it is not at hand. */
  tree(hash: string): string | null;
  force: boolean;
}

const EDITED = 'modified since dvcl recorded it: not overwritten (--force overwrites)';

/** Which files to place, remove, or leave as the user's (content neither recorded nor {@link PlanContext.known}). */
export function planRestore(ctx: PlanContext, outputs: readonly RecordedOutput[]): RestorePlan {
  const plan: RestorePlan = { place: [], links: [], remove: [], failed: [], upToDate: 0 };
  for (const o of outputs) {
    try {
      if (o.kind === 'file') planFile(ctx, plan, o);
      else planDir(ctx, plan, o);
    } catch (e) {
      plan.failed.push({ path: o.path, reason: oneLine((e as Error).message) });
    }
  }
  return plan;
}

function planFile(ctx: PlanContext, plan: RestorePlan, o: RecordedOutput): void {
  const now = ctx.hasher.for(o.hash).hash(o.path);
  if (now?.hash === o.hash && !now.isDir) return void plan.upToDate++;
  if (now && !mayReplace(ctx, now)) return void plan.failed.push({ path: o.path, reason: now.isDir ? 'a folder where dvcl recorded a file: not replaced (--force replaces it)' : EDITED });
  if (now?.isDir) plan.remove.push(o.path);
  plan.place.push({ path: o.path, hash: o.hash });
}

/** A file dvcl may overwrite: its content is one dvcl knows, or the user said --force. A folder only with --force. */
function mayReplace(ctx: PlanContext, now: PathHash): boolean {
  return ctx.force || (!now.isDir && ctx.known(now.hash));
}

function planDir(ctx: PlanContext, plan: RestorePlan, o: RecordedOutput): void {
  const text = ctx.tree(o.hash);
  if (text === null) return void plan.failed.push({ path: o.path, reason: 'its tree object is not in the local cache (`dvcl pull` fetches it)' });
  const entries = parseTree(text);
  if (entries === null) return void plan.failed.push({ path: o.path, reason: `tree object ${o.hash} is not a dvcl tree: nothing placed` });
  const hasher = ctx.hasher.for(o.hash);
  const present = hasher.tree(o.path);
  if (present?.hash === o.hash) return void (plan.upToDate += entries.length);
  const now = present ? null : hasher.hash(o.path);
  if (now) {
    if (!mayReplace(ctx, now)) return void plan.failed.push({ path: o.path, reason: 'a file where dvcl recorded a folder: not replaced (--force replaces it)' });
    plan.remove.push(o.path);
  }
  const files = new Map(present?.files.map((f) => [f.rel, f.hash]));
  const links = new Map<string, string>();
  for (const e of present ? parseTree(present.text) ?? [] : []) if (e.link !== undefined) links.set(e.rel, e.link);
  const listed = new Set<string>();
  for (const e of entries) {
    const rel = `${o.path}/${e.rel}`;
    listed.add(e.rel);
    const had = files.get(e.rel);
    if (e.link !== undefined) {
      if (links.get(e.rel) === e.link) plan.upToDate++;
      else if (had !== undefined && !ctx.force && !ctx.known(had)) plan.failed.push({ path: rel, reason: EDITED });
      else plan.links.push({ path: rel, target: e.link });
      continue;
    }
    if (had === e.hash) plan.upToDate++;
    else if (had !== undefined && !ctx.force && !ctx.known(had)) plan.failed.push({ path: rel, reason: EDITED });
    else plan.place.push({ path: rel, hash: e.hash });
  }
  for (const [rel, hash] of files) {
    if (listed.has(rel)) continue;
    if (ctx.force || ctx.known(hash) || isDeadTemporary(rel)) plan.remove.push(`${o.path}/${rel}`);
    else plan.failed.push({ path: `${o.path}/${rel}`, reason: 'not in the recorded folder, and not a file dvcl wrote: kept (--force removes it)' });
  }
  for (const rel of links.keys()) {
    if (listed.has(rel)) continue;
    if (ctx.force) plan.remove.push(`${o.path}/${rel}`);
    else plan.failed.push({ path: `${o.path}/${rel}`, reason: 'a symlink not in the recorded folder: kept (--force removes it)' });
  }
}

/** A temporary file of a dvcl process that was killed mid-write (`<name>.tmp-<pid>-<hex>`): dvcl's. */
export function isDeadTemporary(rel: string): boolean {
  const m = /\.tmp-(\d+)-[0-9a-f]+$/.exec(rel);
  return m !== null && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]));
}

/** Temporaries of dead checkout/pull processes beside recorded files (one listing per folder). */
export function sweepTemporaries(root: string, paths: readonly string[]): void {
  const byDir = new Map<string, Set<string>>();
  for (const p of paths) {
    const dir = path.posix.dirname(p);
    let names = byDir.get(dir);
    if (!names) byDir.set(dir, (names = new Set()));
    names.add(path.posix.basename(p));
  }
  for (const [dir, names] of byDir) {
    let entries: string[];
    try {
      entries = fs.readdirSync(abs(root, dir));
    } catch {
      continue;
    }
    for (const e of entries) {
      const m = /^(.+)\.tmp-\d+-[0-9a-f]+$/.exec(e);
      if (m && names.has(m[1]) && isDeadTemporary(e)) fs.rmSync(path.join(abs(root, dir), e), { force: true });
    }
  }
}

/** Remove what the plan removes, through folders checked to lie inside the project (outs.ts). */
export function removePlanned(root: string, paths: readonly string[]): Failure[] {
  const failed: Failure[] = [];
  for (const rel of paths) {
    try {
      prepareOuts(root, [rel], false);
    } catch (e) {
      failed.push({ path: rel, reason: oneLine((e as Error).message) });
    }
  }
  return failed;
}

/** Create a symlink of a directory out: a temporary link renamed over whatever is there. */
export function placeLink(root: string, rel: string, target: string): void {
  prepareOuts(root, [rel], true);
  const dest = abs(root, rel);
  const tmp = temporaryBeside(dest);
  fs.symlinkSync(target, tmp);
  try {
    fs.renameSync(tmp, dest);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** A file's content hash (`algo:hex`), read through; hashers are made once per algorithm. */
export class ContentHasher {
  private readonly hashers = new Map<HashAlgorithm, IHasher>();
  private readonly buf = Buffer.allocUnsafe(1024 * 1024);

  async ready(hashes: Iterable<string>): Promise<void> {
    for (const h of hashes) {
      const a = algorithmOf(h);
      if (a && !this.hashers.has(a)) this.hashers.set(a, await createHasher(a));
    }
  }

  /** The hash of `file` with the algorithm `like` names ({@link ready} must have seen one of its kind). */
  hashFile(file: string, like: string): string {
    const algorithm = algorithmOf(like)!;
    const h = this.hashers.get(algorithm)!.init();
    const fd = fs.openSync(file, 'r');
    try {
      for (let n; (n = fs.readSync(fd, this.buf, 0, this.buf.length, null)) > 0;) h.update(n === this.buf.length ? this.buf : this.buf.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
    return `${algorithm}:${h.digest('hex')}`;
  }
}

/** Place the cached object of `hash` at `rel` (temp copy, hashed, renamed only if it matches; a corrupt object is dropped). */
export function placeFromCache(cache: LocalCache, hasher: ContentHasher, root: string, rel: string, hash: string): number {
  return placeCopy(cache.file(hash), hasher, root, rel, hash, (got) => {
    cache.remove(hash);
    return `the local cache's object ${hash} is corrupt (its content hashes to ${got}): removed, nothing placed (\`dvcl pull\` fetches it again)`;
  });
}

/** Place a copy of `src`, which must have `hash` (else `corrupt(got)` says why nothing was placed). */
export function placeCopy(src: string, hasher: ContentHasher, root: string, rel: string, hash: string, corrupt: (got: string) => string): number {
  prepareOuts(root, [rel], true);
  const dest = abs(root, rel);
  const tmp = temporaryBeside(dest);
  try {
    fs.copyFileSync(src, tmp, fs.constants.COPYFILE_FICLONE);
    const got = hasher.hashFile(tmp, hash);
    if (got !== hash) throw new Error(corrupt(got));
    const mode = fs.statSync(dest, { throwIfNoEntry: false })?.mode;
    if (mode !== undefined) fs.chmodSync(tmp, mode & 0o7777);
    renameOver(tmp, dest);
    return fs.statSync(dest).size;
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** rename, over an empty folder as well (one a directory out's removed files left where a file goes). */
function renameOver(tmp: string, dest: string): void {
  try {
    fs.renameSync(tmp, dest);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
    fs.rmdirSync(dest);
    fs.renameSync(tmp, dest);
  }
}

/** Wait until the last placed file's ctime is a tick old, so the next status trusts the stat cache (see settled). */
export async function settlePlaced(root: string, paths: readonly string[]): Promise<void> {
  const last = paths.at(-1);
  if (last === undefined) return;
  const st = fs.statSync(path.join(root, last), { bigint: true, throwIfNoEntry: false });
  if (!st) return;
  const deadline = Date.now() + 250;
  while (!settled(st.ctimeNs, nowNs()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}
