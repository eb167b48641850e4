import { checkTargets, loadProjectConfig, lockForWriting, openProject } from './project.js';
import { applyPlan, contentHasher, remoteRoot, restorePlan, shareState, type Progress, transferResult, type TransferResult } from './sharing.js';
import path from 'node:path';
import { placeCopy, placeFromCache } from '../store/restore.js';
import { prepareOuts } from '../store/outs.js';
import { abs } from '../util/paths.js';
import { oneLine } from '../errors.js';

export interface PullOptions {
  cwd: string;
  targets?: string[];
  /** `--glob`: targets are patterns over stage names. */
  glob?: boolean;
  /** `-r`: the remote, over DVCL_REMOTE and the settings. */
  remote?: string;
  jobs?: number;
  force?: boolean;
  dryRun?: boolean;
  onProgress?: Progress;
  onWarning?: (msg: string) => void;
}

/** Takes each missing or outdated output from the local cache, else downloads it (verified before it is placed); a file the user changed is kept unless `force`. The object store is loaded here only. */
export async function pull(opts: PullOptions): Promise<TransferResult> {
  const cfg = loadProjectConfig(opts.cwd);
  const targets = checkTargets(cfg, opts.targets ?? [], { cwd: opts.cwd, glob: opts.glob });
  const { noRemote, openRemote } = await import('../store/remote.js');
  const { fetchObject } = await import('../store/transfer.js');
  const { isStoreError } = await import('../store/object-store.js');
  const { forEachLimit } = await import('../store/pool.js');
  const runLock = opts.dryRun ? null : await lockForWriting(cfg, 'dvcl pull', opts.onWarning);
  try {
    const p = await openProject({ cwd: opts.cwd, cfg, readOnly: opts.dryRun, onWarning: opts.onWarning });
    const s = shareState(p, targets, opts.remote);
    if (!s.remote) throw noRemote();
    const store = await openRemote(s.remote.url, s.remote.options, { cwd: remoteRoot(p, s.remote) });
    const fatal = (e: unknown) => isStoreError(e) && e.remoteWide;
    const fetched = new Set<string>();
    const gone = new Set<string>();
    const url = s.remote.url;
    try {
      const jobs = Math.max(1, opts.jobs ?? store.jobs);
      // The tree objects of directory outs not in place: they say which files to fetch.
      const treeFailures: { path: string; reason: string }[] = [];
      const trees = s.outputs.filter((o) => o.kind === 'dir' && s.tree(o.hash) === null);
      await forEachLimit(trees, jobs, async (o) => {
        try {
          await fetchObject(store, o.hash, s.cache.file(o.hash));
          fetched.add(o.hash);
        } catch (e) {
          if (fatal(e)) throw e;
          if (isStoreError(e, 'not_found')) gone.add(o.hash);
          treeFailures.push({ path: o.path, reason: oneLine((e as Error).message) });
        }
      });
      const plan = restorePlan(s, Boolean(opts.force));
      const treeFailed = new Set(treeFailures.map((f) => f.path));
      plan.failed = [...plan.failed.filter((f) => !treeFailed.has(f.path)), ...treeFailures];
      if (opts.dryRun) {
        return transferResult({ transferred: plan.place.length, skipped: plan.upToDate, failed: plan.failed, bytes: 0, remote: s.remote.url, dry_run: true, placed: plan.place.map((f) => f.path), removed: plan.remove });
      }
      const hasher = await contentHasher(s.outputs);
      const useCache = cfg.settings.cache !== false;
      // One download per object: the other files with the same content are copies of the first.
      const first = new Map<string, Promise<string>>();
      const checked = new Set<string>();
      const place = async (rel: string, hash: string): Promise<number> => {
        if (s.cache.has(hash)) {
          try {
            return placeFromCache(s.cache, hasher, cfg.root, rel, hash);
          } catch (e) {
            if (s.cache.has(hash)) throw e; // not a corrupt object (which placeFromCache removed): downloaded below
          }
        }
        const earlier = first.get(hash);
        if (earlier) return placeCopy(await earlier, hasher, cfg.root, rel, hash, (got) => `${rel}: the copy of ${hash} hashes to ${got}`);
        const dest = abs(cfg.root, rel);
        let size = 0;
        const done = (async () => {
          // Checked once per folder: nothing runs during a pull to swap one for a link.
          const folder = path.dirname(rel);
          if (!checked.has(folder)) {
            prepareOuts(cfg.root, [rel], true);
            checked.add(folder);
          }
          try {
            ({ size } = await fetchObject(store, hash, dest, useCache ? { alsoAt: s.cache.file(hash) } : {}));
          } catch (e) {
            if (!isStoreError(e, 'not_found')) throw e;
            gone.add(hash);
            throw new Error(`not on remote ${url} (\`dvcl push\` in the clone that ran its stage uploads it)`);
          }
          fetched.add(hash);
          return dest;
        })();
        first.set(hash, done);
        await done;
        return size;
      };
      const r = await applyPlan(s, plan, jobs, place, fatal, opts.onProgress);
      return transferResult({ ...r, skipped: plan.upToDate, failed: r.failed, remote: url });
    } finally {
      s.index?.delete(gone);
      s.index?.add(fetched);
      s.index?.save();
      await store.close();
    }
  } finally {
    await runLock?.release();
  }
}
