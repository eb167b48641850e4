import { oneLine } from '../errors.js';
import type { Hasher } from '../hashing/hash.js';
import type { ItemRecord, Manifest } from '../ledger/manifest.js';
import { removeOrphanOutput } from '../store/outs.js';
import { templateBase } from '../template.js';

// A gone input's output goes with it, or it feeds downstream forever; but only while it is exactly the file dvcl
// recorded: one modified since is kept with a warning (once) and is the user's from then on.

export interface OrphanOutput { path: string; item: string }
export interface KeptOutput extends OrphanOutput { why: string }

export interface DropPlan { stage: string; items: string[]; remove: OrphanOutput[]; keep: KeptOutput[] }

export function planDrop(hasher: Hasher, stage: string, records: Record<string, ItemRecord>, items: string[], written: ReadonlySet<string>): DropPlan {
  const plan: DropPlan = { stage, items, remove: [], keep: [] };
  const seen = new Set<string>();
  for (const item of items) {
    const rec = records[item];
    const out = rec?.output;
    if (out === undefined || written.has(out) || seen.has(out)) continue;
    seen.add(out);
    let hash: string | undefined;
    try {
      hash = hasher.hash(out)?.hash;
    } catch (e) {
      plan.keep.push({ path: out, item, why: (e as Error).message });
      continue;
    }
    if (hash === undefined) continue; // already gone
    if (rec.status === 'success' && rec.output_hash === hash) plan.remove.push({ path: out, item });
    else plan.keep.push({ path: out, item, why: rec.status === 'success' ? 'it was modified since dvcl wrote it' : 'its last run failed, so dvcl has no record of its content' });
  }
  const byPath = (a: OrphanOutput, b: OrphanOutput) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  plan.remove.sort(byPath);
  plan.keep.sort(byPath);
  return plan;
}

/** Files go first: a crash in between leaves records whose outputs are gone, which the next run drops quietly. */
export function applyDrop(root: string, manifest: Manifest, outTemplate: string, plan: DropPlan): { removed: string[]; kept: KeptOutput[] } {
  const base = templateBase(outTemplate);
  const removed: string[] = [];
  const kept = [...plan.keep];
  for (const o of plan.remove) {
    try {
      removeOrphanOutput(root, o.path, base);
      removed.push(o.path);
    } catch (e) {
      kept.push({ ...o, why: (e as Error).message });
    }
  }
  manifest.removeItems(plan.stage, plan.items);
  return { removed, kept };
}

export function keptWarning(stage: string, k: KeptOutput): string {
  return oneLine(`stage ${stage}: kept ${k.path}, the output of ${k.item} (no longer an input): ${k.why}; delete it yourself if it is not needed`);
}
