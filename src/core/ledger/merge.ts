import path from 'node:path';
import { DvclError } from '../errors.js';
import { canonicalText, deepEqual } from '../util/exact.js';
import { cmp, emptyLock, LOCK_FILE, parseLock, serializeLock, type LockData, type LockEntry } from './lock.js';
import {
  dict, emptyManifest, parseManifest, serializeManifest, type ItemRecord, type ManifestData, type RunRecord, type StageRecord,
} from './manifest-format.js';

export type MergeKind = 'lock' | 'manifest';

/** Both changed (`winner`, the later, taken) or removed on one side (`removed`); shown on stderr by `git merge`. */
export interface MergeDecision { what: 'stage' | 'item' | 'run'; stage?: string; key: string; winner: 'ours' | 'theirs'; removed?: 'ours' | 'theirs' }

export interface Merged<T> { data: T; decisions: MergeDecision[] }

type Dict<T> = Record<string, T>;
export type Side = 'ours' | 'theirs';

// Three-way; removed on one side and changed on the other → kept: an extra entry is harmless, a lost one is a re-run.
function merge3<T>(
  base: Dict<T>, ours: Dict<T>, theirs: Dict<T>,
  both: (key: string, o: T, t: T) => T,
  onRemoved: (key: string, kept: Side) => void,
): Dict<T> {
  const out = dict<T>();
  const put = (k: string) => {
    const v = pick3(own(base, k), own(ours, k), own(theirs, k), (o, t) => both(k, o, t), (kept) => onRemoved(k, kept));
    if (v !== undefined) out[k] = v;
  };
  for (const k of Object.keys(ours)) put(k);
  for (const k of Object.keys(theirs)) if (!Object.hasOwn(ours, k)) put(k);
  return out;
}

/** A stage called `constructor` is a key like any other, not Object.prototype's. */
function own<T>(d: Dict<T>, k: string): T | undefined {
  return Object.hasOwn(d, k) ? d[k] : undefined;
}

function pick3<T>(b: T | undefined, o: T | undefined, t: T | undefined, both: (o: T, t: T) => T, onRemoved: (kept: Side) => void): T | undefined {
  if (deepEqual(o, b)) return t; // unchanged on ours: theirs' version, or theirs' removal
  if (deepEqual(t, b)) return o;
  if (o === undefined) { onRemoved('theirs'); return t; }
  if (t === undefined) { onRemoved('ours'); return o; }
  return deepEqual(o, t) ? o : both(o, t);
}

function canonical(v: unknown): string {
  return canonicalText(v) ?? 'undefined';
}

/** Later time, then run id (which starts with its time), then canonical text: A into B and B into A agree. */
function later<T>(o: T, t: T, time: (x: T) => string, run: (x: T) => string): Side {
  const byTime = cmp(time(o), time(t)) || cmp(run(o), run(t)) || cmp(canonical(o), canonical(t));
  return byTime >= 0 ? 'ours' : 'theirs';
}

function isoOrEmpty(s: string | undefined | null): string {
  if (!s) return '';
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? s : new Date(ms).toISOString();
}

function maxTime(...ts: (string | undefined | null)[]): string {
  return ts.map(isoOrEmpty).reduce((a, b) => (cmp(a, b) >= 0 ? a : b), '');
}

export function mergeLock(base: LockData | null, ours: LockData, theirs: LockData): Merged<LockData> {
  const decisions: MergeDecision[] = [];
  const stages = merge3<LockEntry>(base?.stages ?? {}, ours.stages, theirs.stages, (key, o, t) => {
    const winner = later(o, t, () => '', (e) => e.run ?? '');
    decisions.push({ what: 'stage', key, winner });
    return winner === 'ours' ? o : t;
  }, (key, kept) => decisions.push({ what: 'stage', key, winner: kept, removed: kept === 'ours' ? 'theirs' : 'ours' }));
  return { data: { schema: 1, stages }, decisions };
}

export function mergeManifest(base: ManifestData | null, ours: ManifestData, theirs: ManifestData): Merged<ManifestData> {
  const decisions: MergeDecision[] = [];
  const b = base ?? emptyManifest();
  const removed = (what: MergeDecision['what'], stage?: string) => (key: string, kept: Side) =>
    decisions.push({ what, ...(stage === undefined ? {} : { stage }), key, winner: kept, removed: kept === 'ours' ? 'theirs' : 'ours' });
  const stages = merge3<StageRecord>(b.stages, ours.stages, theirs.stages,
    (name, os, ts) => mergeStage(name, own(b.stages, name), os, ts, decisions), removed('stage'));
  const runs = merge3<RunRecord>(b.runs, ours.runs, theirs.runs, (id, o, t) => {
    const winner = later(o, t, (r) => maxTime(r.finished_at, r.started_at), () => id);
    decisions.push({ what: 'run', key: id, winner });
    return winner === 'ours' ? o : t;
  }, removed('run'));
  // A run one branch pruned may still be referred to by a record the other branch changed.
  for (const id of referencedRuns(stages)) {
    if (!own(runs, id)) {
      const rec = own(ours.runs, id) ?? own(theirs.runs, id) ?? own(b.runs, id);
      if (rec) runs[id] = rec;
    }
  }
  const extra = mergeTopLevel(b, ours, theirs);
  return { data: { ...extra, version: 1, stages, runs }, decisions };
}

function mergeStage(name: string, b: StageRecord | undefined, o: StageRecord, t: StageRecord, decisions: MergeDecision[]): StageRecord {
  const { items: bi, ...bf } = b ?? ({} as StageRecord);
  const { items: oi, ...of } = o;
  const { items: ti, ...tf } = t;
  const fields = pick3<Omit<StageRecord, 'items'>>(b && bf, of, tf, (x, y) => {
    const winner = later(x, y, recordTime, (r) => r.run ?? '');
    decisions.push({ what: 'stage', key: name, winner });
    return winner === 'ours' ? x : y;
  }, () => undefined) ?? of;
  if (!oi && !ti) return { ...fields };
  const items = merge3<ItemRecord>(bi ?? {}, oi ?? {}, ti ?? {}, (item, x, y) => {
    const winner = later(x, y, recordTime, (r) => r.run ?? '');
    decisions.push({ what: 'item', stage: name, key: item, winner });
    return winner === 'ours' ? x : y;
  }, (item, kept) => decisions.push({ what: 'item', stage: name, key: item, winner: kept, removed: kept === 'ours' ? 'theirs' : 'ours' }));
  return { ...fields, items };
}

/** Which of two records of one item the merge driver keeps: the later. */
export function laterSide(o: ItemRecord, t: ItemRecord): Side {
  return later(o, t, recordTime, (r) => r.run ?? '');
}

function recordTime(r: { last_processed?: string; last_attempt?: string }): string {
  return maxTime(r.last_processed, r.last_attempt);
}

function referencedRuns(stages: Dict<StageRecord>): Set<string> {
  const ids = new Set<string>();
  for (const s of Object.values(stages)) {
    if (s.run) ids.add(s.run);
    for (const i of Object.values(s.items ?? {})) if (i.run) ids.add(i.run);
  }
  return ids;
}

/** Top-level fields a newer dvcl may add are kept (three-way; ours on a true conflict). */
function mergeTopLevel(b: ManifestData, o: ManifestData, t: ManifestData): Dict<unknown> {
  const strip = (m: ManifestData): Dict<unknown> => {
    const { version: _v, stages: _s, runs: _r, ...rest } = m;
    return rest;
  };
  return merge3<unknown>(strip(b), strip(o), strip(t), (_k, x) => x, () => undefined);
}

export function detectKind(filePath: string | undefined, texts: string[]): MergeKind {
  const name = filePath ? path.posix.basename(filePath.replace(/\\/g, '/')) : '';
  if (name === LOCK_FILE || name.endsWith('.lock')) return 'lock';
  if (name === '.manifest.json' || name.endsWith('.json')) return 'manifest';
  const first = texts.map((t) => t.trimStart()).find((t) => t !== '');
  return first?.startsWith('{') ? 'manifest' : 'lock';
}

export interface MergeTextInput { base: string | null; ours: string; theirs: string; path?: string; kind?: MergeKind }
export interface MergeTextResult { kind: MergeKind; text: string; decisions: MergeDecision[] }

export function mergeTexts(input: MergeTextInput): MergeTextResult {
  const kind = input.kind ?? detectKind(input.path, [input.ours, input.theirs, input.base ?? '']);
  const file = input.path ?? (kind === 'lock' ? LOCK_FILE : '.manifest.json');
  const blank = (s: string | null): s is null => s === null || s.trim() === '';
  const parse = <T>(text: string | null, side: string, fn: (t: string, f: string) => T, empty: () => T): T => {
    if (blank(text)) return empty();
    try {
      return fn(text, `${file} (${side})`);
    } catch (e) {
      if (e instanceof DvclError) throw e;
      throw new DvclError('corrupt', `${file} (${side}): ${(e as Error).message}`);
    }
  };
  if (kind === 'lock') {
    const [b, o, t] = [parse(input.base, 'base', parseLock, emptyLock), parse(input.ours, 'ours', parseLock, emptyLock), parse(input.theirs, 'theirs', parseLock, emptyLock)];
    const m = mergeLock(b, o, t);
    return { kind, text: serializeLock(m.data), decisions: m.decisions };
  }
  const [b, o, t] = [
    parse(input.base, 'base', parseManifest, emptyManifest),
    parse(input.ours, 'ours', parseManifest, emptyManifest),
    parse(input.theirs, 'theirs', parseManifest, emptyManifest),
  ];
  const m = mergeManifest(b, o, t);
  return { kind, text: serializeManifest(m.data), decisions: m.decisions };
}
