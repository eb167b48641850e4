import fs from 'node:fs';
import path from 'node:path';
import { DvclError, oneLine } from '../errors.js';
import { runGit } from '../git/git.js';
import { LOCK_FILE, parseLock, type LockData } from '../ledger/lock.js';
import { MANIFEST_FILE, parseManifest, type ManifestData } from '../ledger/manifest.js';
import { cacheEntries, cacheTemporaries } from '../store/local-cache.js';
import { isTemporary } from '../store/files.js';
import { ITEMS_SUB, itemsEntryText, parseItemsEntry, replaceFile, runEntryHashes, RUNS_DIR, RUNS_PREFIX } from '../store/run-cache.js';
import { commitOfKey, stagePrefix } from '../ledger/fragment.js';
import { parseTree } from '../store/tree.js';
import { hashOfKey, OBJECTS_PREFIX } from '../store/object-store.js';
import { isDeadTemporary } from '../store/restore.js';
import { loadProjectConfig, lockForWriting, openProject } from './project.js';
import { remoteRoot, shareState, type ShareState } from './sharing.js';

export interface GcOptions {
  cwd: string;
  /** Also delete unreferenced objects of the remote (never those younger than {@link REMOTE_MIN_AGE_MS}). */
  remote?: boolean;
  remoteUrl?: string;
  /** References of every commit of every branch and tag, not only the working tree's. */
  allCommits?: boolean;
  dryRun?: boolean;
  onWarning?: (msg: string) => void;
  /** For tests: the time objects' ages are measured from. */
  now?: Date;
}

export interface GcCount { removed: number; bytes: number; kept: number }
export interface GcResult {
  /** `runs`: run cache entries (.dvcl/runs/) removed or trimmed because objects they name went. */
  local: GcCount & { temporaries: number; runs: number };
  /** `fragments`: shard workers' ledger fragments deleted, those of a commit whose gather a lock in scope records (older than 24 h). */
  remote?: GcCount & { url: string; too_young: number; fragments: number; runs: number };
  referenced: number;
  dry_run?: true;
}

/** An object may be referred to by a lock that is not committed yet, in another clone: gc leaves young objects alone. */
export const REMOTE_MIN_AGE_MS = 24 * 3600 * 1000;

/** Deletes objects nothing in scope refers to; an unreadable tree stops gc before any delete (it would lose its files). Takes the run lock: repro adds objects. */
export async function gc(opts: GcOptions): Promise<GcResult> {
  const cfg = loadProjectConfig(opts.cwd);
  const runLock = opts.dryRun ? null : await lockForWriting(cfg, 'dvcl gc', opts.onWarning);
  try {
    const p = await openProject({ cwd: opts.cwd, cfg, readOnly: opts.dryRun, onWarning: opts.onWarning });
    const s = shareState(p, [], opts.remoteUrl);
    const ledgers: { lock: LockData; manifest: ManifestData; where: string }[] = [{ lock: p.lock, manifest: p.manifest.data, where: 'the working tree' }];
    if (opts.allCommits) ledgers.push(...(await committedLedgers(cfg.root, opts.onWarning)));
    const store = opts.remote ? await openStore(s) : null;
    try {
      const referenced = await references(s, ledgers, store);
      const local = { ...sweepLocal(s, referenced, Boolean(opts.dryRun)), runs: sweepRuns(p.stateDir, referenced, Boolean(opts.dryRun)) };
      const result: GcResult = { local, referenced: referenced.size, ...(opts.dryRun ? { dry_run: true as const } : {}) };
      if (store) {
        const now = opts.now ?? new Date();
        // Committed locks only: a gather not committed yet may still be thrown away.
        const committed = opts.allCommits ? ledgers.slice(1) : await headLock(cfg.root);
        const objects = await sweepRemote(s, store, referenced, Boolean(opts.dryRun), now);
        result.remote = {
          ...objects.count,
          fragments: await sweepFragments(s, store, committed, Boolean(opts.dryRun), now),
          runs: await sweepRemoteRuns(store, objects.left, Boolean(opts.dryRun), now),
        };
      }
      return result;
    } finally {
      await store?.close();
    }
  } finally {
    await runLock?.release();
  }
}

type Store = import('../store/object-store.js').ObjectStore;

async function openStore(s: ShareState): Promise<Store> {
  const { noRemote, openRemote } = await import('../store/remote.js');
  if (!s.remote) throw noRemote();
  return openRemote(s.remote.url, s.remote.options, { cwd: remoteRoot(s.p, s.remote) });
}

async function references(s: ShareState, ledgers: { lock: LockData; manifest: ManifestData; where: string }[], store: Store | null): Promise<Set<string>> {
  const refs = new Set<string>();
  const trees = new Map<string, string>(); // tree hash → an out's path, for messages
  for (const { lock, manifest } of ledgers) {
    for (const e of Object.values(lock.stages)) {
      for (const o of e.outs) {
        refs.add(o.hash);
        if (o.nfiles !== undefined) trees.set(o.hash, o.path);
      }
    }
    for (const st of Object.values(manifest.stages)) for (const rec of Object.values(st.items ?? {})) {
      if (!rec.output_hash) continue;
      refs.add(rec.output_hash);
      if (rec.output_nfiles !== undefined && rec.output) trees.set(rec.output_hash, rec.output);
    }
  }
  for (const [hash, out] of trees) {
    let text = s.tree(hash);
    if (text === null) {
      // In the workspace as recorded: its listing is the tree.
      const here = s.p.hasher.for(hash).tree(out);
      if (here?.hash === hash) text = here.text;
    }
    if (text === null && store) text = await remoteTree(s, store, hash);
    if (text === null) {
      // Its files cannot be told from objects nothing refers to: stop before deleting any.
      throw new DvclError('failed', `gc: cannot read the tree object of ${oneLine(out)} (${hash}): it is neither in the local cache, nor in the workspace${store ? ', nor on the remote' : ''}; nothing was deleted`, {
        suggestions: ['`dvcl pull` fetches it (or `dvcl repro` re-creates the folder); then run gc again'],
      });
    }
    for (const e of parseTree(text) ?? []) if (e.hash) refs.add(e.hash);
  }
  return refs;
}

async function remoteTree(s: ShareState, store: Store, hash: string): Promise<string | null> {
  const { fetchObject } = await import('../store/transfer.js');
  try {
    await fetchObject(store, hash, s.cache.file(hash));
    return s.tree(hash);
  } catch (e) {
    if ((e as { remoteWide?: boolean }).remoteWide) throw e;
    return null;
  }
}

async function committedLedgers(root: string, warn?: (m: string) => void): Promise<{ lock: LockData; manifest: ManifestData; where: string }[]> {
  const log = await runGit(['log', '--all', '--format=%H', '--', LOCK_FILE, MANIFEST_FILE], { cwd: root });
  if (log.code !== 0) throw new DvclError('config', `gc --all-commits needs a git repository: ${log.stderr || 'git failed'}`);
  const commits = log.stdout.toString('utf8').split('\n').filter(Boolean);
  if (commits.length === 0) return [];
  const specs = commits.flatMap((c) => [`${c}:${LOCK_FILE}`, `${c}:${MANIFEST_FILE}`]);
  const batch = await runGit(['cat-file', '--batch'], { cwd: root, input: specs.join('\n') + '\n' });
  if (batch.code !== 0) throw new DvclError('io', `git cat-file failed: ${batch.stderr}`, { exit: 1 });
  // `<sha> blob <size>\n<content>\n` per object, or `<spec> missing\n`.
  const out = batch.stdout;
  const texts: (string | null)[] = [];
  for (let pos = 0; pos < out.length;) {
    const nl = out.indexOf(0x0a, pos);
    const header = out.subarray(pos, nl).toString('utf8');
    pos = nl + 1;
    const m = /^[0-9a-f]+ blob (\d+)$/.exec(header);
    if (!m) {
      texts.push(null);
      continue;
    }
    const size = Number(m[1]);
    texts.push(out.subarray(pos, pos + size).toString('utf8'));
    pos += size + 1;
  }
  const ledgers: { lock: LockData; manifest: ManifestData; where: string }[] = [];
  commits.forEach((c, i) => {
    const where = `commit ${c.slice(0, 10)}`;
    try {
      const lockText = texts[2 * i];
      const manifestText = texts[2 * i + 1];
      ledgers.push({
        lock: lockText === null ? { schema: 1, stages: {} } : parseLock(lockText, `${where}:${LOCK_FILE}`),
        manifest: manifestText === null ? { version: 1, stages: {}, runs: {} } : parseManifest(manifestText, `${where}:${MANIFEST_FILE}`),
        where,
      });
    } catch (e) {
      warn?.(`${where}: ${(e as Error).message}: the objects it refers to are not counted`);
    }
  });
  return ledgers;
}

function sweepLocal(s: ShareState, refs: Set<string>, dryRun: boolean): GcCount & { temporaries: number } {
  const dir = s.cache.dir;
  const count = { removed: 0, bytes: 0, kept: 0, temporaries: 0 };
  for (const tmp of cacheTemporaries(dir)) {
    if (!isDeadTemporary(tmp)) continue;
    count.temporaries++;
    if (!dryRun) fs.rmSync(tmp, { force: true });
  }
  for (const { algo, two, name, file } of cacheEntries(dir)) {
    const hash = hashOfKey(`${OBJECTS_PREFIX}${algo}/${two}/${name}`);
    if (hash === null) continue; // a temporary (handled above) or not ours
    if (refs.has(hash)) {
      count.kept++;
      continue;
    }
    count.bytes += fs.statSync(file).size;
    count.removed++;
    if (!dryRun) fs.rmSync(file, { force: true });
  }
  return count;
}

/**
 * Run cache entries whose objects gc deletes could only send a later repro to the remote for
 * them: a stage's entry goes when any of its outs does, an items entry keeps the pairs whose
 * output stays (the remote's copies of pushed entries are untouched). An entry not understood is kept.
 */
function sweepRuns(stateDir: string, refs: Set<string>, dryRun: boolean): number {
  let changed = 0;
  const visit = (dir: string, items: boolean) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const file = path.join(dir, e.name);
      if (e.isDirectory()) {
        visit(file, items || (dir === path.join(stateDir, RUNS_DIR) && `${e.name}/` === ITEMS_SUB));
        continue;
      }
      if (!e.isFile() || isTemporary(e.name)) continue;
      const text = fs.readFileSync(file, 'utf8');
      if (items) {
        const pairs = parseItemsEntry(text);
        if (!pairs) continue;
        const kept = new Map([...pairs].filter(([, output]) => refs.has(output)));
        if (kept.size === pairs.size) continue;
        changed++;
        if (dryRun) continue;
        if (kept.size === 0) fs.rmSync(file, { force: true });
        else replaceFile(file, itemsEntryText(kept));
      } else {
        const outs = runEntryHashes(text);
        if (!outs || outs.every((h) => refs.has(h))) continue;
        changed++;
        if (!dryRun) fs.rmSync(file, { force: true });
      }
    }
  };
  visit(path.join(stateDir, RUNS_DIR), false);
  return changed;
}

/** HEAD's pipeline.lock, or none (no commit, no lock in it, or one dvcl cannot read: then nothing counts as gathered). */
async function headLock(root: string): Promise<{ lock: LockData }[]> {
  const r = await runGit(['show', `HEAD:${LOCK_FILE}`], { cwd: root });
  if (r.code !== 0) return [];
  try {
    return [{ lock: parseLock(r.stdout.toString('utf8'), `HEAD:${LOCK_FILE}`) }];
  } catch {
    return [];
  }
}

/**
 * A per-item stage's fragments of commit C are folded for good once a committed lock in scope
 * (HEAD's; with --all-commits, any commit's) has the stage's entry from C (gather writes it only when every item is covered): those older than
 * 24 h go. Fragments of a commit not gathered yet, or of a stage no longer in the pipeline, stay.
 */
async function sweepFragments(s: ShareState, store: Store, ledgers: { lock: LockData }[], dryRun: boolean, now: Date): Promise<number> {
  const doomed: string[] = [];
  for (const stage of s.p.cfg.stages.filter((st) => st.foreach)) {
    const gathered = new Set(ledgers.map((l) => l.lock.stages[stage.name]?.git?.commit).filter((c): c is string => typeof c === 'string'));
    if (gathered.size === 0) continue;
    for await (const o of store.list(stagePrefix(stage.name))) {
      const commit = commitOfKey(stage.name, o.key);
      if (commit !== null && gathered.has(commit) && now.getTime() - o.mtime.getTime() >= REMOTE_MIN_AGE_MS) doomed.push(o.key);
    }
  }
  if (!dryRun && doomed.length) await store.deleteMany(doomed);
  return doomed.length;
}

/** Also what is left on the remote afterwards (`left`: the objects kept or too young). */
async function sweepRemote(s: ShareState, store: Store, refs: Set<string>, dryRun: boolean, now: Date): Promise<{ count: GcCount & { url: string; too_young: number }; left: Set<string> }> {
  const count = { url: store.url, removed: 0, bytes: 0, kept: 0, too_young: 0 };
  const doomed: string[] = [];
  const hashes: string[] = [];
  const left = new Set<string>();
  for await (const o of store.list(OBJECTS_PREFIX)) {
    const hash = hashOfKey(o.key);
    if (hash === null) continue;
    if (refs.has(hash)) (count.kept++, left.add(hash));
    else if (now.getTime() - o.mtime.getTime() < REMOTE_MIN_AGE_MS) (count.too_young++, left.add(hash));
    else {
      doomed.push(o.key);
      hashes.push(hash);
      count.removed++;
      count.bytes += o.size;
    }
  }
  if (!dryRun && doomed.length) {
    await store.deleteMany(doomed);
    s.index?.delete(hashes);
    s.index?.save();
  }
  return { count, left };
}

/**
 * The remote's run cache entries older than 24 h that can no longer be restored from: a stage's
 * entry when any of its outs is gone from the remote, an items entry when every output it names
 * is (one with some left is not rewritten: a push may be adding to it). One GET per old entry.
 */
async function sweepRemoteRuns(store: Store, left: Set<string>, dryRun: boolean, now: Date): Promise<number> {
  const { readObject } = await import('../store/object-store.js');
  const { forEachLimit } = await import('../store/pool.js');
  const old: string[] = [];
  for await (const o of store.list(RUNS_PREFIX)) {
    if (!isTemporary(o.key) && now.getTime() - o.mtime.getTime() >= REMOTE_MIN_AGE_MS) old.push(o.key);
  }
  const doomed: string[] = [];
  await forEachLimit(old, store.jobs, async (key) => {
    let text: string;
    try {
      text = (await readObject(store, key)).toString('utf8');
    } catch {
      return; // gone meanwhile, or unreadable now: left for another gc
    }
    if (key.startsWith(RUNS_PREFIX + ITEMS_SUB)) {
      const pairs = parseItemsEntry(text);
      if (pairs && ![...pairs.values()].some((h) => left.has(h))) doomed.push(key);
    } else {
      const outs = runEntryHashes(text);
      if (outs && !outs.every((h) => left.has(h))) doomed.push(key);
    }
  });
  if (!dryRun && doomed.length) await store.deleteMany(doomed);
  return doomed.length;
}
