import { checkTargets, loadProjectConfig, lockForWriting, openProject } from './project.js';
import { applyPlan, contentHasher, restorePlan, shareState, type Progress, transferResult, type TransferResult } from './sharing.js';
import { placeFromCache } from '../store/restore.js';

export interface CheckoutOptions {
  cwd: string;
  targets?: string[];
  /** `--glob`: targets are patterns over stage names. */
  glob?: boolean;
  /** Overwrite files the user changed, and remove what is in the way. */
  force?: boolean;
  dryRun?: boolean;
  onProgress?: Progress;
  onWarning?: (msg: string) => void;
}

/** From the local object cache only (no network); a file the user changed is kept unless `force`. Takes the run lock: it writes what repro writes. */
export async function checkout(opts: CheckoutOptions): Promise<TransferResult> {
  const cfg = loadProjectConfig(opts.cwd);
  const targets = checkTargets(cfg, opts.targets ?? [], { cwd: opts.cwd, glob: opts.glob });
  const runLock = opts.dryRun ? null : await lockForWriting(cfg, 'dvcl checkout', opts.onWarning);
  try {
    const p = await openProject({ cwd: opts.cwd, cfg, readOnly: opts.dryRun, onWarning: opts.onWarning });
    const s = shareState(p, targets);
    const plan = restorePlan(s, Boolean(opts.force));
    const absent = plan.place.filter((f) => !s.cache.has(f.hash));
    const missing = new Set(absent.map((f) => f.path));
    plan.place = plan.place.filter((f) => !missing.has(f.path));
    plan.failed.push(...absent.map((f) => ({ path: f.path, reason: 'not in the local cache (`dvcl pull` fetches it from the remote)' })));
    if (opts.dryRun) {
      return transferResult({ transferred: plan.place.length, skipped: plan.upToDate, failed: plan.failed, bytes: 0, dry_run: true, placed: plan.place.map((f) => f.path), removed: plan.remove });
    }
    const hasher = await contentHasher(s.outputs);
    const r = await applyPlan(s, plan, 1, async (rel, hash) => placeFromCache(s.cache, hasher, cfg.root, rel, hash), () => false, opts.onProgress);
    return transferResult({ ...r, skipped: plan.upToDate, failed: r.failed });
  } finally {
    await runLock?.release();
  }
}
