import fs from 'node:fs';
import { checkTargets, loadProjectConfig, openProject } from './project.js';
import { remoteRoot, shareState, type Progress, type ShareState, transferResult, type TransferResult } from './sharing.js';
import type { Failure } from '../store/restore.js';
import { parseTree } from '../store/tree.js';
import { abs } from '../util/paths.js';
import { oneLine } from '../errors.js';
import type { ObjectStore } from '../store/object-store.js';
import { stagesOf } from '../store/recorded.js';
import { itemsRemoteKey, LocalRuns, parseRunEntry, runKey, runRemoteKey, RUNS_PREFIX } from '../store/run-cache.js';
import { RunCache } from '../run/run-cache.js';

export interface PushOptions {
  cwd: string;
  targets?: string[];
  /** `--glob`: targets are patterns over stage names. */
  glob?: boolean;
  remote?: string;
  jobs?: number;
  dryRun?: boolean;
  onProgress?: Progress;
  onWarning?: (msg: string) => void;
}

interface Source { file: string | Buffer; path: string; size: number; tree: boolean }

/** Uploads what the remote lacks (asked in bulk). Reads only, no run lock: an upload is verified as it is read, so a file repro rewrites meanwhile is refused. */
export async function push(opts: PushOptions): Promise<TransferResult> {
  const cfg = loadProjectConfig(opts.cwd);
  const targets = checkTargets(cfg, opts.targets ?? [], { cwd: opts.cwd, glob: opts.glob });
  const { noRemote, openRemote } = await import('../store/remote.js');
  const { pushObject } = await import('../store/transfer.js');
  const { missingObjects } = await import('../store/missing.js');
  const { isStoreError } = await import('../store/object-store.js');
  const { forEachLimit } = await import('../store/pool.js');
  const p = await openProject({ cwd: opts.cwd, cfg, readOnly: true, onWarning: opts.onWarning });
  const s = shareState(p, targets, opts.remote);
  if (!s.remote) throw noRemote();
  const url = s.remote.url;
  const { sources, failed } = localSources(s, Boolean(opts.dryRun));
  const store = await openRemote(url, s.remote.options, { cwd: remoteRoot(p, s.remote) });
  try {
    const jobs = Math.max(1, opts.jobs ?? store.jobs);
    const missing = await missingObjects(store, sources.keys(), { jobs });
    const lacking = new Set(missing);
    s.index?.add([...sources.keys()].filter((h) => !lacking.has(h)));
    const skipped = sources.size - missing.length;
    const bytesOf = (hs: string[]) => hs.reduce((n, h) => n + sources.get(h)!.size, 0);
    if (opts.dryRun) return transferResult({ transferred: missing.length, skipped, failed: failed, bytes: bytesOf(missing), remote: url, dry_run: true });
    // Files first, trees last: a tree on the remote means its files are there.
    const files = missing.filter((h) => !sources.get(h)!.tree);
    const trees = missing.filter((h) => sources.get(h)!.tree);
    let done = 0;
    let bytes = 0;
    const pushed: string[] = [];
    const upload = async (hash: string): Promise<void> => {
      const src = sources.get(hash)!;
      try {
        // A Buffer is the path of a file whose name is not valid UTF-8: fs takes it as it is.
        const r = await pushObject(store, hash, src.file as string);
        bytes += r.size;
        pushed.push(hash);
      } catch (e) {
        if (isStoreError(e) && e.remoteWide) throw e;
        failed.push({ path: src.path, reason: oneLine((e as Error).message) });
      }
      opts.onProgress?.(++done, missing.length, bytes);
    };
    await forEachLimit(files, jobs, upload);
    // A tree whose files did not all go up stays off the remote (a pull would find it incomplete).
    await forEachLimit(trees.filter((h) => !failed.some((f) => f.path.startsWith(`${sources.get(h)!.path}/`))), jobs, upload);
    s.index?.add(pushed);
    const runs = await pushRuns(s, store, targets, new Set(failed.map((f) => f.path)), jobs, forEachLimit);
    return transferResult({ transferred: pushed.length, skipped, failed: failed, bytes, remote: url, ...(runs ? { runs } : {}) });
  } finally {
    s.index?.save();
    await store.close();
  }
}

// The workspace when the output there still has the recorded hash, else the local cache.
function localSources(s: ShareState, dryRun: boolean): { sources: Map<string, Source>; failed: Failure[] } {
  const { p, cache } = s;
  const root = p.cfg.root;
  const sources = new Map<string, Source>();
  const failed: Failure[] = [];
  const add = (hash: string, src: Source) => { if (!sources.has(hash)) sources.set(hash, src); };
  const fromCache = (hash: string, path: string, tree = false): boolean => {
    const file = cache.file(hash);
    const st = fs.statSync(file, { throwIfNoEntry: false });
    if (!st?.isFile()) return false;
    add(hash, { file, path, size: st.size, tree });
    return true;
  };
  const absent = (path: string, changed: boolean) => failed.push({
    path, reason: changed ? 'differs from what the lock or manifest records (edited, or not re-run since): not pushed' : 'not here: neither in the workspace nor in the local cache',
  });
  for (const o of s.outputs) {
    const hasher = p.hasher.for(o.hash);
    let now;
    let tree;
    try {
      if (o.kind === 'dir') tree = hasher.tree(o.path);
      now = tree ? { hash: tree.hash, isDir: true } : hasher.hash(o.path);
    } catch (e) {
      failed.push({ path: o.path, reason: oneLine((e as Error).message) });
      continue;
    }
    if (o.kind === 'file') {
      if (now?.hash === o.hash && !now.isDir) add(o.hash, { file: abs(root, o.path), path: o.path, size: (now as { size: number }).size, tree: false });
      else if (!fromCache(o.hash, o.path)) absent(o.path, now !== null);
      continue;
    }
    if (tree && tree.hash === o.hash) {
      for (const f of tree.files) add(f.hash, { file: f.abs, path: `${o.path}/${f.rel}`, size: f.size, tree: false });
      // The tree object is uploaded from the local cache, where it is kept whatever settings.cache says (it is small).
      if (!dryRun) cache.addText(o.hash, tree.text);
      if (!fromCache(o.hash, o.path, true)) add(o.hash, { file: cache.file(o.hash), path: o.path, size: Buffer.byteLength(tree.text), tree: true });
      continue;
    }
    const text = s.tree(o.hash);
    const entries = text === null ? null : parseTree(text);
    if (entries === null) {
      absent(o.path, now !== null);
      continue;
    }
    const lost = entries.filter((e) => e.hash !== undefined && !fromCache(e.hash, `${o.path}/${e.rel}`));
    if (lost.length) {
      for (const e of lost) absent(`${o.path}/${e.rel}`, false);
      continue;
    }
    fromCache(o.hash, o.path, true);
  }
  return { sources, failed };
}

/**
 * The run cache entries of the selected stages' lock entries (those this clone ran or restored),
 * after their objects: an entry on the remote means its outs are there. Returns how many went up.
 */
async function pushRuns(s: ShareState, store: ObjectStore, targets: string[], failedPaths: Set<string>, jobs: number, limit: typeof import('../store/pool.js').forEachLimit): Promise<number> {
  const runs = LocalRuns.of(s.p.stateDir);
  const itemRuns = LocalRuns.items(s.p.stateDir);
  const todo: { key: string; file: string }[] = [];
  for (const name of stagesOf(s.p.cfg, targets)) {
    const stage = s.p.cfg.stages.find((st) => st.name === name);
    if (stage?.foreach) {
      const keys = new Set(Object.values(s.p.manifest.stage(name)?.items ?? {}).map((r) => r.stage_hash).filter((h): h is string => h !== undefined));
      for (const k of keys) if (itemRuns.read(k) !== null) todo.push({ key: itemsRemoteKey(k), file: itemRuns.file(k) });
      continue;
    }
    const entry = s.p.lock.stages[name];
    if (!stage || !entry || !RunCache.eligible(stage) || entry.outs.some((o) => failedPaths.has(o.path) || [...failedPaths].some((f) => f.startsWith(`${o.path}/`)))) continue;
    const key = runKey(s.p.hasher, entry);
    const text = runs.read(key);
    if (text === null || parseRunEntry(text, stage.outs) === null) continue;
    todo.push({ key: runRemoteKey(key), file: runs.file(key) });
  }
  if (todo.length === 0) return 0;
  // One listing, not a HEAD per entry.
  const there = new Set<string>();
  for await (const o of store.list(RUNS_PREFIX)) there.add(o.key);
  let n = 0;
  await limit(todo.filter((t) => !there.has(t.key)), jobs, async (t) => {
    const size = fs.statSync(t.file).size;
    await store.put(t.key, { size, open: () => fs.createReadStream(t.file) });
    n++;
  });
  return n;
}
