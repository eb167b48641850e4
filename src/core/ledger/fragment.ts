// Ledger fragments: what one `repro --shard K/N` worker recorded, uploaded to the remote for `gather`.
import { DvclError } from '../errors.js';
import { canonicalText, deepEqual } from '../util/exact.js';
import type { LockEntry, LockGit } from './lock.js';
import { cmp } from './lock.js';
import { dict, itemRecord, runRecord, type ItemRecord, type RunRecord } from './manifest-format.js';
import { laterSide } from './merge.js';

export const FRAGMENTS_PREFIX = 'dvcl/v1/fragments/';

/** The stage's inputs as its lock entry records them, without the items (those gather computes). */
export type FragmentEntry = Pick<LockEntry, 'cmd' | 'deps' | 'params' | 'wdir' | 'env' | 'out'> & { git: LockGit };

export interface Fragment {
  version: 1;
  commit: string;
  stage: string;
  /** The items' `stage_hash`: cmd template, shared deps, params. */
  stage_key: string;
  /** A hash over the names of every item of the stage, as the worker listed them (each hashes only its own). */
  items_set: string;
  items_total: number;
  shard: { index: number; count: number };
  attempt: string;
  seq: number;
  entry: FragmentEntry;
  /** First fragment of an attempt only: the shard's items and their input hashes. */
  present?: [string, string][];
  items: Record<string, ItemRecord>;
  runs: Record<string, RunRecord>;
}

export function stagePrefix(stage: string): string {
  return `${FRAGMENTS_PREFIX}${encodeURIComponent(stage)}/`;
}

export function fragmentKey(f: Pick<Fragment, 'stage' | 'commit' | 'shard' | 'attempt' | 'seq'>): string {
  return `${stagePrefix(f.stage)}${f.commit}/${shardPrefix(f.shard)}${f.attempt}-${String(f.seq).padStart(6, '0')}.json`;
}

/** Every attempt's fragments of one shard start with this, below the commit's folder. */
export function shardPrefix(s: { index: number; count: number }): string {
  return `${s.index}of${s.count}-`;
}

/** The commit a key below {@link stagePrefix} names, or null for a foreign key. */
export function commitOfKey(stage: string, key: string): string | null {
  const rest = key.startsWith(stagePrefix(stage)) ? key.slice(stagePrefix(stage).length) : null;
  const m = rest === null ? null : /^([0-9a-f]{40,64})\/[0-9]+of[0-9]+-[0-9a-f]+-[0-9]{6}\.json$/.exec(rest);
  return m ? m[1] : null;
}

export function serializeFragment(f: Fragment): string {
  return JSON.stringify(f) + '\n';
}

/** @throws DvclError `corrupt` naming `key` when the text is not a fragment dvcl writes. */
export function parseFragment(text: string, key: string): Fragment {
  const bad = (why: string) => new DvclError('corrupt', `fragment ${key}: ${why}`, { exit: 1 });
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw bad(`not JSON (${(e as Error).message})`);
  }
  if (v === null || typeof v !== 'object' || v.version !== 1) throw bad('not a version 1 fragment');
  for (const k of ['commit', 'stage', 'stage_key', 'items_set', 'attempt'] as const) if (typeof v[k] !== 'string') throw bad(`${k} is not a string`);
  const shard = v.shard as Fragment['shard'] | undefined;
  if (!Number.isInteger(v.items_total) || !Number.isInteger(v.seq) || !shard || !Number.isInteger(shard.index) || !Number.isInteger(shard.count)) throw bad('counts are not whole numbers');
  if (!v.entry || typeof v.entry !== 'object' || !v.items || typeof v.items !== 'object' || !v.runs || typeof v.runs !== 'object') throw bad('entry, items or runs missing');
  if (v.present !== undefined && (!Array.isArray(v.present) || !v.present.every((p) => Array.isArray(p) && typeof p[0] === 'string' && typeof p[1] === 'string'))) throw bad('present is not a list of [item, hash]');
  const items = dict<ItemRecord>();
  const runs = dict<RunRecord>();
  try {
    for (const [k, r] of Object.entries(v.items as object)) items[k] = itemRecord(r, `items.${k}`);
    for (const [k, r] of Object.entries(v.runs as object)) runs[k] = runRecord(r, `runs.${k}`);
  } catch (e) {
    throw bad((e as Error).message);
  }
  return { ...(v as unknown as Fragment), items, runs };
}

/**
 * Of all the records of one item: the latest (the merge driver's rule), unless it is a failure and
 * a success of the same input exists (two workers of one shard): then the latest such success.
 * A function of the set, so the order the fragments come in does not matter.
 */
function pick(recs: readonly ItemRecord[]): ItemRecord {
  let latest = recs[0];
  // From the second: a record against itself ties on time and run, and then compares their canonical texts (gather's hot loop).
  for (let i = 1; i < recs.length; i++) if (laterSide(recs[i], latest) === 'ours') latest = recs[i];
  if (latest.status === 'success') return latest;
  let best: ItemRecord | undefined;
  for (const r of recs) {
    if (r.status === 'success' && r.hash === latest.hash && r.stage_hash === latest.stage_hash && (!best || laterSide(r, best) === 'ours')) best = r;
  }
  return best ?? latest;
}

export interface Folded {
  /** Records that differ from `records` after folding, by item. */
  changed: Record<string, ItemRecord>;
  /** The runs those records name. */
  runs: Record<string, RunRecord>;
  /** Union of the fragments' listings: item → input hash. */
  present: Map<string, string>;
  shards: number[];
}

/** Fragments folded one at a time (each can be dropped once added), in any order. */
export class FragmentFold {
  private readonly recs = new Map<string, ItemRecord | ItemRecord[]>();
  private readonly runs = new Map<string, RunRecord>();
  private readonly present = new Map<string, string>();
  private readonly shards = new Set<number>();

  add(f: Fragment): void {
    this.shards.add(f.shard.index);
    for (const [id, r] of Object.entries(f.runs)) {
      const had = this.runs.get(id);
      // A later fragment of the same attempt may carry the run finished: the finished one, else the same text.
      if (!had || cmp(`${r.finished_at ?? ''}\0${canonicalText(r)}`, `${had.finished_at ?? ''}\0${canonicalText(had)}`) > 0) this.runs.set(id, r);
    }
    for (const [item, hash] of f.present ?? []) this.present.set(item, hash);
    for (const item in f.items) { // a dict (no prototype): no entry arrays for 100,000 items
      const rec = f.items[item];
      const had = this.recs.get(item);
      if (had === undefined) this.recs.set(item, rec);
      else if (Array.isArray(had)) had.push(rec);
      else this.recs.set(item, [had, rec]);
    }
  }

  result(records: Record<string, ItemRecord>): Folded {
    const changed = dict<ItemRecord>();
    const runs = dict<RunRecord>();
    for (const [item, got] of this.recs) {
      const own = Object.hasOwn(records, item) ? records[item] : undefined;
      const rec = !own && !Array.isArray(got) ? got : pick([...(own ? [own] : []), ...(Array.isArray(got) ? got : [got])]);
      if (own && deepEqual(own, rec)) continue;
      changed[item] = rec;
      const run = this.runs.get(rec.run);
      if (run) runs[rec.run] = run;
    }
    return { changed, runs, present: this.present, shards: [...this.shards].sort((a, b) => a - b) };
  }
}

/** Fold fragments (of one stage, commit and item set) into `records`; the result does not depend on their order. */
export function foldFragments(records: Record<string, ItemRecord>, frags: readonly Fragment[]): Folded {
  const fold = new FragmentFold();
  for (const f of frags) fold.add(f);
  return fold.result(records);
}

/** Fragments of one commit grouped by what they ran over; more than one group cannot be gathered. */
export function groupByInputs(frags: readonly { key: string; frag: Pick<Fragment, 'stage_key' | 'items_set' | 'items_total'> }[]): { stage_key: string; items_set: string; keys: string[] }[] {
  const groups = new Map<string, { stage_key: string; items_set: string; keys: string[] }>();
  for (const { key, frag } of frags) {
    const id = `${frag.stage_key}\0${frag.items_set}\0${frag.items_total}`;
    const g = groups.get(id) ?? { stage_key: frag.stage_key, items_set: frag.items_set, keys: [] };
    g.keys.push(key);
    groups.set(id, g);
  }
  return [...groups.values()].map((g) => ({ ...g, keys: g.keys.sort(cmp) }));
}
