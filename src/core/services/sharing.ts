// What push, pull and checkout share: the result they print, the project state they read, and the
// placing of a restore plan. Nothing here loads the object store's remote modules.
import type { Project } from '../project.js';
import { LocalCache } from '../store/local-cache.js';
import { recordedOutputs, type RecordedOutput } from '../store/recorded.js';
import { configuredRemote, RemoteIndex, remoteBase, remoteId } from '../store/remote-index.js';
import type { ResolvedRemote } from '../store/remote.js';
import { ContentHasher, isDeadTemporary, placeLink, planRestore, removePlanned, settlePlaced, sweepTemporaries, type Failure, type RestorePlan } from '../store/restore.js';
import { forEachLimit } from '../store/pool.js';
import { oneLine } from '../errors.js';

/** `--json` of push, pull and checkout (SPEC §10), with what was placed or removed. */
export interface TransferResult {
  /** Files uploaded (push) or placed (pull, checkout); with --dry-run, that would be. */
  transferred: number;
  /** Files already where they go: on the remote (push), in place (pull, checkout). */
  skipped: number;
  failed: Failure[];
  bytes: number;
  remote?: string;
  dry_run?: true;
  /** pull, checkout: the files placed (or to place), and dvcl's files removed from directory outs. */
  placed?: string[];
  removed?: string[];
  /** push: run cache entries uploaded (see store/run-cache.ts). */
  runs?: number;
}

export function transferResult(r: TransferResult): TransferResult {
  const { transferred, skipped, failed, bytes, ...rest } = r;
  return { transferred, skipped, failed: [...failed].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)), bytes, ...rest };
}

export type Progress = (done: number, total: number, bytes: number) => void;

export interface ShareState {
  p: Project;
  outputs: RecordedOutput[];
  cache: LocalCache;
  remote: ResolvedRemote | null;
  index: RemoteIndex | null;
  /** A tree object from the local cache, checked against its hash; a corrupt one is removed. */
  tree(hash: string): string | null;
}

export function shareState(p: Project, targets: readonly string[], flag?: string): ShareState {
  const cache = LocalCache.of(p.stateDir);
  const remote = configuredRemote(p.cfg, flag);
  const index = remote ? RemoteIndex.load(p.stateDir, remoteId(remote, remoteRoot(p, remote))) : null;
  const tree = (hash: string): string | null => {
    const text = cache.readText(hash);
    if (text === null) return null;
    if (p.hasher.for(hash).hashString(text) === hash) return text;
    cache.remove(hash);
    return null;
  };
  return { p, outputs: recordedOutputs(p.cfg, p.lock, p.manifest.data, targets), cache, remote, index, tree };
}

/** A relative folder remote is relative to where the user is when they name it (-r, DVCL_REMOTE), else to the project. */
export function remoteRoot(p: Project, remote: ResolvedRemote): string {
  return remoteBase(remote, p.cfg.root);
}

export function restorePlan(s: ShareState, force: boolean): RestorePlan {
  return planRestore({
    root: s.p.cfg.root, hasher: s.p.hasher, tree: s.tree, force,
    known: (h) => s.cache.has(h) || (s.index?.has(h) ?? false),
  }, s.outputs);
}

/** Remove, link, then place each file; a failure of one is listed, `fatal` errors (the remote as a whole) are thrown. */
export async function applyPlan(
  s: ShareState, plan: RestorePlan, jobs: number,
  place: (rel: string, hash: string) => Promise<number>, fatal: (e: unknown) => boolean, onProgress?: Progress,
): Promise<Omit<TransferResult, 'skipped'>> {
  const root = s.p.cfg.root;
  const failed = [...plan.failed];
  sweepTemporaries(root, plan.place.map((f) => f.path));
  failed.push(...removePlanned(root, plan.remove));
  for (const l of plan.links) {
    try {
      placeLink(root, l.path, l.target);
    } catch (e) {
      failed.push({ path: l.path, reason: oneLine((e as Error).message) });
    }
  }
  const placed: string[] = [];
  let bytes = 0;
  let done = 0;
  let stop: unknown;
  await forEachLimit(plan.place, jobs, async (f) => {
    if (stop !== undefined) return;
    try {
      const n = await place(f.path, f.hash); // not `bytes += await …`: that adds to the value read before the wait
      bytes += n;
      s.p.hasher.remember(f.path, f.hash);
      placed.push(f.path);
    } catch (e) {
      if (fatal(e)) stop ??= e;
      else failed.push({ path: f.path, reason: oneLine((e as Error).message) });
    }
    onProgress?.(++done, plan.place.length, bytes);
  });
  await settlePlaced(root, placed);
  s.p.hasher.save();
  if (stop !== undefined) throw stop;
  return { transferred: placed.length, failed, bytes, placed: placed.sort(), removed: plan.remove.filter((r) => !isDeadTemporary(r)) };
}

export async function contentHasher(outputs: readonly { hash: string }[]): Promise<ContentHasher> {
  const h = new ContentHasher();
  await h.ready(outputs.map((o) => o.hash));
  return h;
}
