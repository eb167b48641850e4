// status/: what is stale and why, as data. This module: facts gathered (facts.ts), then decided (decide.ts).
import picomatch from 'picomatch';
import type { PipelineConfig, StageConfig } from '../pipeline.js';
import type { Hasher, PathHash } from '../hashing/hash.js';
import { cmp, type LockData, type LockEntry } from '../ledger/lock.js';
import type { ItemRecord, ItemStats, Manifest } from '../ledger/manifest.js';
import type { StageKey } from '../ledger/stage-key.js';
import { itemVars, outputOf as prepareOutput, type ItemVars } from '../template.js';
import { decideItem, decideItemStage, decideStage, inputReasons, isProduced, settled, type PresentItem, type StageFacts } from './decide.js';
import { stageFacts, stageHashes } from './facts.js';
import { checkedOutputs, listItems, type ItemListing } from './items.js';
import { FAILED_ITEMS_KEPT, type FailedItem, type ItemRunReason, type StageState, type StageStatus, type StatusReport } from './reasons.js';

export type StageInputs = StageKey & { missing: string[] };

export interface ItemTask { item: string; vars: ItemVars; hash: string; why: ItemRunReason }

export interface Evaluation {
  status: StageStatus;
  inputs: StageInputs;
  facts: StageFacts;
  items?: { present: { item: string; hash: string; output: string }[]; tasks: ItemTask[]; stageHash: string; stageHashes: string[]; givenUp: string[]; dropped: string[] };
}

export interface EvalContext {
  cfg: PipelineConfig;
  lock: LockData;
  manifest: Manifest;
  hasher: Hasher;
  maxAttempts: number;
}

export interface EvalOptions {
  force?: boolean;
  onlyFailed?: boolean;
  items?: ItemListing;
}

export function sameInputs(ctx: EvalContext, facts: StageFacts, entry: LockEntry): boolean {
  return inputReasons(facts, entry, (p) => isProduced(ctx.cfg, p)).length === 0;
}

/** `upstreamStale`: direct upstream stages not up to date; the runner passes none, having run them first. */
export function evaluateStage(ctx: EvalContext, stage: StageConfig, upstreamStale: string[], opts: EvalOptions = {}): Evaluation {
  const entry = ctx.lock.stages[stage.name];
  const facts = stageFacts(ctx.cfg, ctx.hasher, stage, entry);
  const inputs: StageInputs = { ...facts.key, missing: facts.missing };
  const produced = (p: string) => isProduced(ctx.cfg, p);
  if (stage.foreach && !stage.frozen) return evaluatePerItem(ctx, stage, entry, facts, inputs, upstreamStale, opts);
  const d = decideStage(stage, entry, ctx.manifest.stage(stage.name), facts, upstreamStale, produced, opts);
  return { status: { name: stage.name, state: d.state, reasons: d.reasons }, inputs, facts };
}

export function stageWarnings(st: StageStatus): string[] {
  const out: string[] = [];
  const n = st.skipped?.length ?? 0;
  if (n) out.push(`stage ${st.name}: ${n} input${n === 1 ? '' : 's'} not processed, the name${n === 1 ? ' is' : 's are'} not valid UTF-8 (rename ${n === 1 ? 'it' : 'them'}): ${st.skipped!.map((s) => s.path).join(', ')}`);
  for (const g of st.unmatched_globs ?? []) {
    out.push(`stage ${st.name}: foreach ${g} matches no file${g.includes('\\') ? ` (paths use /, not \\: ${g.replace(/\\/g, '/')})` : ''}`);
  }
  return out;
}

function evaluatePerItem(ctx: EvalContext, stage: StageConfig, entry: LockEntry | undefined, facts: StageFacts, inputs: StageInputs, upstreamStale: string[], opts: EvalOptions): Evaluation {
  const hashes = stageHashes(ctx.hasher, stage, facts);
  const present: { item: string; hash: string; output: string }[] = [];
  const tasks: ItemTask[] = [];
  const givenUp: string[] = [];
  const failedItems: FailedItem[] = [];
  let failedLeft = 0;
  let pending = 0;
  let outputsMissing = 0; // share: pending only because the recorded output is missing (restorable, --allow-missing)
  let matched = 0; // present items that have a record: fewer than the records means some were dropped
  // Prepared once per stage, not per item (100,000s of items).
  const outputOf = opts.items ? prepareOutput(stage.out!) : checkedOutputs(stage);
  const records = ctx.manifest.stage(stage.name)?.items;
  const now: PresentItem = { hash: '', stage_hash: hashes.configured, outputExists: false, outputHash: null, maxAttempts: ctx.maxAttempts, force: opts.force };
  const listing = opts.items ?? listItems(ctx.cfg.root, stage);
  for (const item of listing.items) {
    const rec = records?.[item];
    const hasher = ctx.hasher.for(rec?.hash);
    const h = hasher.hash(item);
    if (!h) continue; // vanished between glob and hash
    const out = outputOf(item);
    if (rec) matched++;
    // One stat per output: hashing a recorded output also says whether it exists (100,000s of items).
    const outputHash = rec?.status === 'success' ? outputNow(ctx.hasher.for(rec.output_hash).hash(out), rec) : null;
    const stageHasher = ctx.hasher.for(rec?.stage_hash);
    now.stage_hash = stageHasher === ctx.hasher ? hashes.configured : hashes.with(stageHasher);
    now.hash = h.hash;
    now.outputHash = outputHash;
    // Only a successful record looks at its output: a new or failed item runs whether it exists or not.
    now.outputExists = outputHash !== null;
    const d = decideItem(rec, now);
    // retry --only-failed: items whose last attempt failed, also when their input or the stage changed
    // since (fixing the input or the script is how a failure is usually fixed).
    const why = d.run && (!opts.onlyFailed || rec?.status === 'failed') ? d.why : null;
    const hash = why && hasher !== ctx.hasher ? ctx.hasher.hash(item)?.hash : h.hash;
    if (hash === undefined) continue; // vanished since
    present.push({ item, hash, output: out });
    if ((d.givenUp || (d.why === 'failed' && d.run)) && failedItems.length < FAILED_ITEMS_KEPT) {
      failedItems.push({ item, reason: rec?.reason ?? 'unknown', attempts: rec?.attempts ?? 0, given_up: Boolean(d.givenUp) });
    }
    if (d.givenUp) givenUp.push(item);
    if (d.why === 'failed' && d.run) failedLeft++;
    else if (d.run && d.why !== 'forced') pending++; // counted whatever runs now: retry --only-failed leaves these pending
    if (d.run && d.why === 'output_missing') outputsMissing++; // share
    if (why) tasks.push({ item, vars: itemVars(item, stage.out!), hash, why });
  }
  const recorded = records ?? {};
  const names = Object.keys(recorded);
  let dropped: string[] = [];
  // Inputs that a stale upstream stage writes are not gone yet: it runs first (in a fresh clone, with
  // its outs git-ignored, none exist). The run evaluates this stage again once that stage is done.
  const inputsComing = upstreamStale.some((u) => ctx.cfg.dag.edges.some((e) => e.from === u && e.to === stage.name && stage.foreach!.includes(e.dep)));
  if (names.length > matched && !inputsComing && !listing.partition) {
    const here = new Set(present.map((p) => p.item));
    dropped = names.filter((i) => !here.has(i)).sort(cmp);
  }
  const tally = { recorded: names.length, pending, failedLeft, givenUp: givenUp.length, dropped: dropped.length, outputsMissing };
  const itemsHashNow = () => itemsHash(ctx.hasher.for(entry?.items?.hash), present, recorded);
  const d = decideItemStage(stage, entry, tally, facts, itemsHashNow, upstreamStale, (p) => isProduced(ctx.cfg, p), opts);
  const failedNow = failedLeft + givenUp.length;
  const stats: ItemStats = { total: present.length, success: present.length - pending - failedNow, failed: failedNow, pending, given_up: givenUp.length };
  const status: StageStatus = { name: stage.name, state: d.state, reasons: d.reasons, items: stats };
  if (failedItems.length) status.failed_items = failedItems;
  if (listing.skipped.length) status.skipped = listing.skipped.map((p) => ({ path: p, reason: 'name_not_utf8' }));
  // A glob over files no stage produces that matches nothing is a typo, not an empty input set.
  if (ctx.cfg.dag.upstream.get(stage.name)?.size === 0) {
    const unmatched = stage.foreach!.filter((g) => { const m = picomatch(g); return !listing.items.some((i) => m(i)); });
    if (unmatched.length) status.unmatched_globs = unmatched;
  }
  return { status, inputs, facts, items: { present, tasks, stageHash: hashes.configured, stageHashes: hashes.all(), givenUp, dropped } };
}

/** A file where the record says directory (the tree's text, placed by an older pull) is not the output. */
function outputNow(h: PathHash | null, rec: ItemRecord): string | null {
  if (!h) return null;
  return rec.output_nfiles !== undefined && !h.isDir ? `${h.hash} (a file)` : h.hash;
}

export function itemsHash(hasher: Hasher, present: { item: string; hash: string }[], items: Record<string, ItemRecord>): string {
  return hasher.hashParts(itemLines(present, items));
}

// Made as the hash takes them, never joined (BENCHMARKS.md).
function* itemLines(present: { item: string; hash: string }[], items: Record<string, ItemRecord>): Generator<string> {
  for (const p of present) yield `${p.item}\0${p.hash}\0${items[p.item]?.output_hash ?? ''}\n`;
}

export function computeStatus(ctx: EvalContext, selected: string[]): StatusReport {
  const byName = new Map(ctx.cfg.stages.map((s) => [s.name, s]));
  const states = new Map<string, StageState>();
  const stages: StageStatus[] = [];
  for (const name of selected) {
    const ups = [...ctx.cfg.dag.upstream.get(name)!].filter((u) => {
      const s = states.get(u);
      return s === 'stale' || s === 'failed';
    });
    const ev = evaluateStage(ctx, byName.get(name)!, ups);
    states.set(name, ev.status.state);
    stages.push(ev.status);
  }
  return { up_to_date: stages.every((s) => settled(s.state)), stages };
}
