import { oneLine } from '../errors.js';
import type { Hasher } from '../hashing/hash.js';
import type { ItemRecord, Manifest } from '../ledger/manifest.js';
import { removeOrphanOutput } from './outs.js';
import { templateBase } from '../template.js';

/*
 * A per-item stage's outputs are part of what downstream reads (`ls out > index.txt`): the output
 * of an input that was deleted or renamed must go with its item, or it feeds downstream forever.
 * But never a file of the user's: only an output that is still exactly the file dvcl recorded for
 * the item is removed. One modified since (or never recorded, its item having failed) is kept, with
 * a warning; the item is dropped all the same, so the file is the user's from then on and the
 * warning is not repeated on every run.
 */

/** The output of a dropped item. */
export interface OrphanOutput { path: string; item: string }
/** An orphaned output that is not removed, and why. */
export interface KeptOutput extends OrphanOutput { why: string }

/** What dropping some of a stage's items does: the outputs to remove (sorted), and those to keep. */
export interface DropPlan { stage: string; items: string[]; remove: OrphanOutput[]; keep: KeptOutput[] }

/**
 * Plan dropping `items` (recorded, no longer present) of a stage: each recorded output that still
 * exists is removed if its hash is the recorded one, else kept. `written`: outputs that present
 * items write (a renamed input may have the same output), never touched.
 */
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

/**
 * Carry out a plan: remove the outputs (an output whose folder now leads out of the project is
 * kept instead), then forget the items. Returns the outputs removed and kept. Files go first: a
 * crash in between leaves records whose outputs are gone, which the next run drops quietly.
 */
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

/** The warning for an output kept: the path, whose it was, why, and what to do. */
export function keptWarning(stage: string, k: KeptOutput): string {
  return oneLine(`stage ${stage}: kept ${k.path}, the output of ${k.item} (no longer an input): ${k.why}; delete it yourself if it is not needed`);
}
