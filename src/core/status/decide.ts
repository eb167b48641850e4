// The staleness decision, from config, lock entry, ledger record and facts.ts. Reads no file.
import type { PipelineConfig, StageConfig } from '../pipeline.js';
import { cmp, type LockEntry } from '../ledger/lock.js';
import { givenUp, type ItemRecord, type StageRecord } from '../ledger/manifest.js';
import { sameCommand, type StageKey } from '../ledger/stage-key.js';
import { sameValue } from '../util/exact.js';
import type { ItemRunReason, Reason, StageState } from './reasons.js';

export interface StageFacts {
  key: StageKey;
  missing: string[];
  /** Deps whose recorded hash is of another algorithm: their hash now in that one (null: gone). */
  depsAsRecorded: Map<string, string | null>;
  outs: Map<string, string | null>;
}

/** A missing dep among them is "not produced yet", not an error. */
export function isProduced(cfg: PipelineConfig, dep: string): boolean {
  return cfg.dag.edges.some((e) => e.dep === dep);
}

export function missingDeps(facts: Pick<StageFacts, 'missing'>, produced: (p: string) => boolean): Reason[] {
  return facts.missing.filter((p) => !produced(p)).map((path) => ({ code: 'dep_missing', path }));
}

export function inputReasons(facts: Pick<StageFacts, 'key' | 'missing' | 'depsAsRecorded'>, entry: LockEntry, produced: (p: string) => boolean): Reason[] {
  const reasons: Reason[] = [];
  const { key } = facts;
  if (!sameCommand(entry, key)) reasons.push({ code: 'cmd_changed' });
  const old = new Map(entry.deps.map((d) => [d.path, d.hash]));
  for (const d of key.deps) {
    const then = old.get(d.path);
    const now = facts.depsAsRecorded.has(d.path) ? facts.depsAsRecorded.get(d.path)! : d.hash;
    if (then !== now) reasons.push({ code: 'dep_changed', path: d.path, old: then ?? null, new: now });
  }
  for (const p of facts.missing) {
    if (produced(p)) reasons.push({ code: 'dep_changed', path: p, old: old.get(p) ?? null, new: null });
  }
  const declared = new Set([...key.deps.map((d) => d.path), ...facts.missing]);
  for (const d of entry.deps) if (!declared.has(d.path)) reasons.push({ code: 'dep_changed', path: d.path, old: d.hash, new: null });
  const files = new Set([...Object.keys(key.params), ...Object.keys(entry.params)]);
  for (const f of [...files].sort(cmp)) {
    const now = key.params[f] ?? {};
    const then = entry.params[f] ?? {};
    for (const k of [...new Set([...Object.keys(now), ...Object.keys(then)])].sort(cmp)) {
      if (!sameValue(now[k], then[k])) reasons.push({ code: 'param_changed', file: f, key: k, old: then[k] ?? null, new: now[k] ?? null });
    }
  }
  return reasons;
}

export interface Decision { state: StageState; reasons: Reason[] }

export function settled(state: StageState): boolean {
  return state === 'up_to_date' || state === 'frozen';
}

export function decideStage(
  stage: StageConfig, entry: LockEntry | undefined, record: StageRecord | undefined, facts: StageFacts,
  upstreamStale: string[], produced: (p: string) => boolean, opts: { force?: boolean } = {},
): Decision {
  if (stage.frozen) return { state: 'frozen', reasons: [] };
  const reasons = missingDeps(facts, produced);
  if (!entry) reasons.push({ code: 'never_run' });
  else {
    reasons.push(...inputReasons(facts, entry, produced));
    const old = new Map(entry.outs.map((o) => [o.path, o.hash]));
    for (const p of stage.outs) {
      const now = facts.outs.get(p) ?? null;
      if (now === null) reasons.push({ code: 'out_missing', path: p });
      else if (old.get(p) !== now) reasons.push({ code: 'out_changed', path: p, old: old.get(p) ?? null, new: now });
    }
    for (const o of entry.outs) if (!stage.outs.includes(o.path)) reasons.push({ code: 'out_changed', path: o.path, old: o.hash, new: null });
  }
  if (stage.always_changed) reasons.push({ code: 'always_changed' });
  for (const u of upstreamStale) reasons.push({ code: 'upstream_stale', stage: u });
  const failed = record?.status === 'failed';
  if (failed) reasons.push({ code: 'last_run_failed', reason: record?.reason ?? 'unknown' });
  if (opts.force) reasons.push({ code: 'forced' });
  return { state: failed ? 'failed' : reasons.length ? 'stale' : 'up_to_date', reasons };
}

export interface PresentItem {
  hash: string;
  stage_hash?: string;
  outputExists: boolean;
  outputHash?: string | null;
  maxAttempts: number;
  force?: boolean;
}

export interface ItemDecision { run: boolean; why: ItemRunReason | null; givenUp: boolean }

export function decideItem(rec: ItemRecord | undefined, present: PresentItem): ItemDecision {
  const yes = (why: ItemRunReason): ItemDecision => ({ run: true, why, givenUp: false });
  if (present.force) return yes('forced');
  if (!rec) return yes('new');
  if (rec.hash !== present.hash) return yes('changed');
  if (present.stage_hash !== undefined && rec.stage_hash !== present.stage_hash) return yes('stage_changed');
  if (rec.status === 'failed') return givenUp(rec, present.maxAttempts) ? { run: false, why: 'failed', givenUp: true } : yes('failed');
  if (!present.outputExists) return yes('output_missing');
  if (present.outputHash && rec.output_hash && present.outputHash !== rec.output_hash) return yes('output_changed');
  return { run: false, why: null, givenUp: false };
}

export interface ItemTally {
  recorded: number;
  pending: number;
  failedLeft: number;
  givenUp: number;
  dropped: number;
  /** Of the pending, those pending only because their recorded output is missing (restorable). */
  outputsMissing?: number;
}

// `itemsHashNow` is computed only when it matters; the stage-level inputs only while items are pending.
export function decideItemStage(
  stage: StageConfig, entry: LockEntry | undefined, tally: ItemTally, facts: StageFacts, itemsHashNow: () => string,
  upstreamStale: string[], produced: (p: string) => boolean, opts: { force?: boolean } = {},
): Decision {
  if (stage.frozen) return { state: 'frozen', reasons: [] };
  const reasons = missingDeps(facts, produced);
  const known = tally.recorded > 0;
  if (!entry && !known) reasons.push({ code: 'never_run' });
  if (known && tally.pending === 0 && tally.failedLeft === 0 && tally.givenUp === 0 && !opts.force) {
    // Every item done, but the entry is missing (lost in a merge) or names other items (inputs
    // deleted since): nothing runs, the next repro only rewrites the entry.
    if (!entry) reasons.push({ code: 'never_run' });
    else {
      const now = itemsHashNow();
      if (entry.items?.hash !== now) reasons.push({ code: 'dep_changed', path: stage.foreach!.join(' '), old: entry.items?.hash ?? null, new: now });
    }
  }
  if (entry && tally.pending > 0) reasons.push(...inputReasons(facts, entry, produced).filter((r) => r.code !== 'dep_changed' || r.new !== null || !produced(r.path)));
  if (tally.pending > 0) reasons.push({ code: 'items_pending', count: tally.pending, ...(tally.outputsMissing ? { outputs_missing: tally.outputsMissing } : {}) });
  if (tally.dropped > 0) reasons.push({ code: 'items_dropped', count: tally.dropped });
  if (tally.failedLeft > 0 || tally.givenUp > 0) reasons.push({ code: 'items_failed', count: tally.failedLeft, ...(tally.givenUp ? { given_up: tally.givenUp } : {}) });
  if (stage.always_changed) reasons.push({ code: 'always_changed' });
  for (const u of upstreamStale) reasons.push({ code: 'upstream_stale', stage: u });
  if (opts.force) reasons.push({ code: 'forced' });
  const state: StageState = tally.failedLeft > 0 || tally.givenUp > 0 ? 'failed' : reasons.length ? 'stale' : 'up_to_date';
  return { state, reasons };
}
