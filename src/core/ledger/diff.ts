// ledger/: two versions of the committed ledger (pipeline.lock and .manifest.json) compared, as data.
// Pure: the service reads the two sides from git or the disk; `dvcl diff` renders this.
import { diffEntry, type EntryChange } from './entry-diff.js';
import { cmp, type LockData } from './lock.js';
import type { ItemRecord, ManifestData } from './manifest-format.js';

/** One side of a comparison: its ledger files, or null where no pipeline is recorded. */
export interface Ledger { lock: LockData | null; manifest: ManifestData | null }

/** `rerun`: the entry changed; `changes` empty when only the run changed (a re-run with the same result). */
export interface StageDiff {
  name: string;
  change: 'added' | 'removed' | 'rerun';
  run: { old: string | null; new: string | null };
  changes: EntryChange[];
}

/** Item paths sorted; `failed` lists items failed on the new side, `newly_failed` counts those that were not before. */
export interface ItemsDiff {
  stage: string;
  count: { old: number; new: number };
  added: string[];
  removed: string[];
  changed: string[];
  failed: string[];
  newly_failed: number;
}

/** A stage whose last run failed, on the new side (from the manifest: a failed run leaves the lock entry as it was). */
export interface FailedStage { name: string; reason: string | null; newly: boolean }

export interface LedgerDiff { stages: StageDiff[]; unchanged: number; failed: FailedStage[]; items: ItemsDiff[] }

export function diffLedgers(a: Ledger, b: Ledger): LedgerDiff {
  const sa = a.lock?.stages ?? {};
  const sb = b.lock?.stages ?? {};
  const stages: StageDiff[] = [];
  let unchanged = 0;
  for (const name of union(Object.keys(sa), Object.keys(sb))) {
    const d = diffEntry(name, sa[name], sb[name]);
    if (!d) {
      unchanged++;
      continue;
    }
    stages.push({
      name,
      change: d.change === 'modified' ? 'rerun' : d.change,
      run: { old: sa[name]?.run ?? null, new: sb[name]?.run ?? null },
      changes: d.change === 'removed' ? [] : d.changes,
    });
  }
  const ma = a.manifest?.stages ?? {};
  const mb = b.manifest?.stages ?? {};
  const items: ItemsDiff[] = [];
  const failed: FailedStage[] = [];
  for (const name of union(Object.keys(ma), Object.keys(mb))) {
    if (mb[name]?.status === 'failed') failed.push({ name, reason: mb[name].reason ?? null, newly: ma[name]?.status !== 'failed' });
    const ia = ma[name]?.items;
    const ib = mb[name]?.items;
    if (ia === undefined && ib === undefined) continue; // a whole-stage record: the lock says the rest
    const d = diffItems(name, ia ?? {}, ib ?? {});
    if (d.added.length || d.removed.length || d.changed.length || d.failed.length) items.push(d);
  }
  return { stages, unchanged, failed, items };
}

/** Linear in the items: one pass over each side's map, then one sort per list (100,000s of items). */
export function diffItems(stage: string, a: Record<string, ItemRecord>, b: Record<string, ItemRecord>): ItemsDiff {
  const added: string[] = [];
  const removed: string[] = [];
  const changed: string[] = [];
  const failed: string[] = [];
  let newlyFailed = 0;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  for (const p of keysB) {
    const nb = b[p];
    const old = Object.hasOwn(a, p) ? a[p] : undefined;
    if (old === undefined) added.push(p);
    else if (old.hash !== nb.hash || old.output_hash !== nb.output_hash || old.output !== nb.output) changed.push(p);
    if (nb.status === 'failed') {
      failed.push(p);
      if (old?.status !== 'failed') newlyFailed++;
    }
  }
  for (const p of keysA) if (!Object.hasOwn(b, p)) removed.push(p);
  for (const list of [added, removed, changed, failed]) list.sort(cmp);
  return { stage, count: { old: keysA.length, new: keysB.length }, added, removed, changed, failed, newly_failed: newlyFailed };
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])].sort(cmp);
}
