import fs from 'node:fs';
import path from 'node:path';
import { globSync } from 'tinyglobby';
import type { PipelineConfig, StageConfig } from '../pipeline.js';
import type { Hasher } from '../hashing/hash.js';
import { canonicalText, sameValue } from '../util/exact.js';
import { cmp, type LockData, type LockEntry, type LockPath } from '../ledger/lock.js';
import type { ItemRecord, ItemStats, Manifest, PresentItem } from '../ledger/manifest.js';
import { DvclError } from '../errors.js';
import { abs } from '../util/paths.js';
import picomatch from 'picomatch';
import { REPLACEMENT, undecodedPaths } from '../hashing/raw-names.js';
import { RESERVED_HINT, reservedOut } from '../config/reserved.js';
import { itemVars, outputOf as prepareOutput, type ItemVars } from '../template.js';

/** Why a stage is not up to date (SPEC §4). The codes are stable: scripts match on them. */
export type Reason =
  | { code: 'never_run' }
  | { code: 'cmd_changed' }
  | { code: 'dep_changed'; path: string; old: string | null; new: string | null }
  | { code: 'dep_missing'; path: string }
  | { code: 'param_changed'; file: string; key: string; old: unknown; new: unknown }
  | { code: 'out_missing'; path: string; /** git ignores it: a fresh clone never has it */ ignored?: true; /** share: in the local cache or known to be on the remote (services/status.ts) */ restorable?: true }
  | { code: 'out_changed'; path: string; old: string | null; new: string | null }
  | { code: 'upstream_stale'; stage: string }
  | { code: 'always_changed' }
  | { code: 'items_pending'; count: number; /** share: of them, items pending only because their recorded output is missing */ outputs_missing?: number; restorable?: true }
  | { code: 'items_failed'; count: number; given_up?: number }
  /** per-item stage: recorded items whose input is gone (deleted, renamed, no longer matched): repro drops them and removes their outputs */
  | { code: 'items_dropped'; count: number }
  | { code: 'last_run_failed'; reason: string }
  | { code: 'forced' };

export type StageState = 'up_to_date' | 'stale' | 'failed' | 'frozen';

/** An input a per-item stage cannot process: its name is not valid UTF-8 (shown with its bytes escaped). */
export interface SkippedInput { path: string; reason: 'name_not_utf8' }

export interface StageStatus { name: string; state: StageState; reasons: Reason[]; items?: ItemStats; skipped?: SkippedInput[]; unmatched_globs?: string[]; failed_items?: FailedItem[] }
/** A per-item stage's failed item, as `status` lists it: the first FAILED_ITEMS_KEPT of them. */
export interface FailedItem { item: string; reason: string; attempts: number; given_up: boolean }
export const FAILED_ITEMS_KEPT = 1000;

/** The present inputs of a stage, hashed: what its lock entry will hold after a successful run. */
export interface StageInputs { cmd: string | string[]; wdir?: string; env?: Record<string, string>; deps: LockPath[]; params: Record<string, Record<string, unknown>>; missing: string[] }

export type ItemWhy = 'new' | 'changed' | 'stage_changed' | 'output_missing' | 'output_changed' | 'failed' | 'forced';
/** One item of a per-item stage that has to run. */
export interface ItemTask { item: string; vars: ItemVars; hash: string; why: ItemWhy }

export interface Evaluation {
  status: StageStatus;
  inputs: StageInputs;
  /**
   * Per-item stages: present items (with the hash their records hold when current, of whatever
   * algorithm; with the configured one for those that run), the ones to run, the stage-level hash
   * new item records get, and those items are checked against (it, and its value with each other
   * algorithm met), and the recorded items that are no longer present (`dropped`, sorted).
   */
  items?: { present: { item: string; hash: string; output: string }[]; tasks: ItemTask[]; stageHash: string; stageHashes: string[]; givenUp: string[]; dropped: string[] };
}

export interface EvalContext {
  cfg: PipelineConfig;
  lock: LockData;
  manifest: Manifest;
  hasher: Hasher;
  maxAttempts: number;
}

/** Hash what a stage reads now. A missing dep is listed in `missing`, not thrown. */
export function stageInputs(ctx: EvalContext, stage: StageConfig): StageInputs {
  const deps: LockPath[] = [];
  const missing: string[] = [];
  for (const p of stage.deps) {
    const h = ctx.hasher.hash(p);
    if (!h) { missing.push(p); continue; }
    deps.push({ path: p, hash: h.hash, size: h.size, ...(h.isDir ? { nfiles: h.nfiles ?? 0 } : {}) });
  }
  deps.sort((a, b) => cmp(a.path, b.path));
  const params: Record<string, Record<string, unknown>> = Object.create(null);
  for (const ref of stage.params) (params[ref.file] ??= Object.create(null))[ref.key] = ctx.cfg.params[ref.file]?.[ref.key];
  return { ...commandKey(stage), deps, params, missing };
}

/** What a stage runs: its command, and its folder and environment when not the default (`wdir: .` is none). */
export function commandKey(stage: StageConfig): Pick<StageInputs, 'cmd' | 'wdir' | 'env'> {
  const key: Pick<StageInputs, 'cmd' | 'wdir' | 'env'> = { cmd: stage.cmd.length === 1 ? stage.cmd[0] : stage.cmd };
  if (stage.wdir !== '.') key.wdir = stage.wdir;
  if (Object.keys(stage.env).length) key.env = { ...stage.env };
  return key;
}

/** Paths some stage writes (a missing dep among them is "not produced yet", not an error). */
export function isProduced(cfg: PipelineConfig, dep: string): boolean {
  return cfg.dag.edges.some((e) => e.dep === dep);
}

/** The same command in the same folder with the same environment. */
export function sameCommand(a: Pick<StageInputs, 'cmd' | 'wdir' | 'env'>, b: Pick<StageInputs, 'cmd' | 'wdir' | 'env'>): boolean {
  return sameValue(a.cmd, b.cmd) && (a.wdir ?? '.') === (b.wdir ?? '.') && sameValue(a.env ?? {}, b.env ?? {});
}

/**
 * The hash of `rel` now, with the algorithm `recorded` was computed with (the configured one when
 * there is none): what to compare `recorded` with. `configured`: its hash with the configured
 * algorithm, when known already.
 */
function hashLike(hasher: Hasher, recorded: string | undefined, rel: string, configured: string): string | null {
  const h = hasher.for(recorded);
  return h === hasher ? configured : h.hash(rel)?.hash ?? null;
}

/** Whether the present inputs are those a lock entry recorded (hashes compared with the algorithm each was recorded with). */
export function sameInputs(ctx: EvalContext, inputs: StageInputs, entry: LockEntry): boolean {
  return inputReasons(ctx, inputs, entry).length === 0;
}

/**
 * Differences between the present inputs and a lock entry: cmd, deps, params. A dep recorded with
 * another algorithm than the configured one is hashed again with that one (see Hasher.for): its
 * `old` and `new` are then of the same kind.
 */
function inputReasons(ctx: EvalContext, inputs: StageInputs, entry: LockEntry): Reason[] {
  const reasons: Reason[] = [];
  if (!sameCommand(entry, inputs)) reasons.push({ code: 'cmd_changed' });
  const old = new Map(entry.deps.map((d) => [d.path, d.hash]));
  for (const d of inputs.deps) {
    const then = old.get(d.path);
    const now = hashLike(ctx.hasher, then, d.path, d.hash);
    if (then !== now) reasons.push({ code: 'dep_changed', path: d.path, old: then ?? null, new: now });
  }
  for (const p of inputs.missing) {
    if (isProduced(ctx.cfg, p)) reasons.push({ code: 'dep_changed', path: p, old: old.get(p) ?? null, new: null });
  }
  const declared = new Set([...inputs.deps.map((d) => d.path), ...inputs.missing]);
  for (const d of entry.deps) if (!declared.has(d.path)) reasons.push({ code: 'dep_changed', path: d.path, old: d.hash, new: null });
  const files = new Set([...Object.keys(inputs.params), ...Object.keys(entry.params)]);
  for (const f of [...files].sort(cmp)) {
    const now = inputs.params[f] ?? {};
    const then = entry.params[f] ?? {};
    for (const k of [...new Set([...Object.keys(now), ...Object.keys(then)])].sort(cmp)) {
      if (!sameValue(now[k], then[k])) reasons.push({ code: 'param_changed', file: f, key: k, old: then[k] ?? null, new: now[k] ?? null });
    }
  }
  return reasons;
}

/**
 * What state is this stage in, and why? `upstreamStale` names direct upstream stages that are
 * not up to date (status) — the runner passes none, having brought them up to date first.
 */
export interface EvalOptions {
  force?: boolean;
  onlyFailed?: boolean;
  /** A per-item stage's items as listed by checkItemOutputs, when nothing can have changed them since. */
  items?: ItemListing;
}

export function evaluateStage(ctx: EvalContext, stage: StageConfig, upstreamStale: string[], opts: EvalOptions = {}): Evaluation {
  const inputs = stageInputs(ctx, stage);
  const reasons: Reason[] = [];
  for (const p of inputs.missing) if (!isProduced(ctx.cfg, p)) reasons.push({ code: 'dep_missing', path: p });
  if (stage.frozen) return { status: { name: stage.name, state: 'frozen', reasons: [] }, inputs };
  if (stage.foreach) return evaluatePerItem(ctx, stage, inputs, reasons, upstreamStale, opts);
  const entry = ctx.lock.stages[stage.name];
  const record = ctx.manifest.stage(stage.name);
  if (!entry) reasons.push({ code: 'never_run' });
  else {
    reasons.push(...inputReasons(ctx, inputs, entry));
    const old = new Map(entry.outs.map((o) => [o.path, o.hash]));
    for (const p of stage.outs) {
      const h = ctx.hasher.for(old.get(p)).hash(p);
      if (!h) reasons.push({ code: 'out_missing', path: p });
      else if (old.get(p) !== h.hash) reasons.push({ code: 'out_changed', path: p, old: old.get(p) ?? null, new: h.hash });
    }
    for (const o of entry.outs) if (!stage.outs.includes(o.path)) reasons.push({ code: 'out_changed', path: o.path, old: o.hash, new: null });
  }
  if (stage.always_changed) reasons.push({ code: 'always_changed' });
  for (const u of upstreamStale) reasons.push({ code: 'upstream_stale', stage: u });
  const failed = record?.status === 'failed';
  if (failed) reasons.push({ code: 'last_run_failed', reason: record?.reason ?? 'unknown' });
  if (opts.force) reasons.push({ code: 'forced' });
  const state: StageState = failed ? 'failed' : reasons.length ? 'stale' : 'up_to_date';
  return { status: { name: stage.name, state, reasons }, inputs };
}

/** A per-item stage's inputs: the sorted files, and those matched whose names are not valid UTF-8. */
export interface ItemListing { items: string[]; skipped: string[] }

/** The sorted input files of a per-item stage. */
export function listItems(root: string, stage: StageConfig): ItemListing {
  const simple = listSimple(root, stage.foreach!);
  if (simple) return withoutUndecodable(root, simple, []);
  // Folders the glob would enter but cannot, as their names are not valid UTF-8: tinyglobby skips
  // them without a word (it reads a folder by its decoded name, which names nothing).
  const unreadable: string[] = [];
  const readdirSync = ((dir: fs.PathLike, o?: unknown) => {
    try {
      return fs.readdirSync(dir, o as never);
    } catch (e) {
      if (String(dir).includes(REPLACEMENT)) unreadable.push(String(dir));
      throw e;
    }
  }) as typeof fs.readdirSync;
  const found = globSync(stage.foreach!, { cwd: root, onlyFiles: true, dot: false, expandDirectories: false, ignore: ['.git/**', '.dvcl/**'], fs: { ...fs, readdirSync } });
  const dirs = unreadable.map((d) => path.relative(root, path.resolve(root, d)).split(path.sep).join('/'));
  return withoutUndecodable(root, [...new Set(found)].sort(cmp), dirs);
}

/** Takes out of `found` the names that are not valid UTF-8 (they name no file), to be reported. */
function withoutUndecodable(root: string, found: string[], dirs: string[]): ItemListing {
  const skipped = dirs.flatMap((d) => undecodedPaths(root, d).map((p) => `${p}/`));
  if (!found.some((f) => f.includes(REPLACEMENT))) return { items: found, skipped: skipped.sort(cmp) };
  const items: string[] = [];
  const seen = new Set<string>();
  for (const f of found) {
    if (!f.includes(REPLACEMENT)) items.push(f);
    else if (!seen.has(f)) {
      seen.add(f); // names that decode alike come out once per name on disk
      skipped.push(...undecodedPaths(root, f));
      if (fs.lstatSync(abs(root, f), { throwIfNoEntry: false })) items.push(f); // a name that holds U+FFFD itself
    }
  }
  return { items, skipped: skipped.sort(cmp) };
}

/**
 * What a stage's evaluation found that the user must hear of: inputs skipped because their names
 * are not valid UTF-8, and `foreach` globs that match no file (a typo, or `\` separators).
 */
export function stageWarnings(st: StageStatus): string[] {
  const out: string[] = [];
  const n = st.skipped?.length ?? 0;
  if (n) out.push(`stage ${st.name}: ${n} input${n === 1 ? '' : 's'} not processed, the name${n === 1 ? ' is' : 's are'} not valid UTF-8 (rename ${n === 1 ? 'it' : 'them'}): ${st.skipped!.map((s) => s.path).join(', ')}`);
  for (const g of st.unmatched_globs ?? []) {
    out.push(`stage ${st.name}: foreach ${g} matches no file${g.includes('\\') ? ` (paths use /, not \\: ${g.replace(/\\/g, '/')})` : ''}`);
  }
  return out;
}

/**
 * `dir/*.ext` or `dir/*`: a folder whose segments hold no glob syntax and do not start with a dot
 * (so neither `.git` nor `.dvcl`), then `*` with an optional literal extension.
 */
const SIMPLE_GLOB = /^((?:[\w-][\w.-]*\/)*)\*((?:\.[\w-]+)*)$/;

/**
 * The files that simple globs match, with one readdir per glob instead of tinyglobby (100,000
 * items: ~5x faster, and no per-name matcher call). The same result as globSync with the options
 * above: `*` matches no name starting with a dot, and only regular files count. Null (use tinyglobby)
 * when a glob is not simple, or a matching entry is neither a regular file nor a directory
 * (a symlink, or a file system that reports no types), or the folder cannot be read.
 */
function listSimple(root: string, globs: string[]): string[] | null {
  const found: string[] = [];
  for (const g of globs) {
    const m = SIMPLE_GLOB.exec(g);
    if (!m) return null;
    const [, dir, ext] = m;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir ? abs(root, dir.slice(0, -1)) : root, { withFileTypes: true });
    } catch {
      return null;
    }
    for (let i = 0; i < entries.length; i++) {
      const d = entries[i];
      const name = d.name;
      if (name.charCodeAt(0) === 0x2e || !name.endsWith(ext)) continue; // `.` : dotfiles
      if (d.isFile()) found.push(dir + name);
      else if (!d.isDirectory()) return null;
    }
  }
  // Sorting without a comparator orders by UTF-16 code units, as cmp does, and is faster.
  return globs.length > 1 ? [...new Set(found)].sort() : found.sort();
}

/** Two items writing one file: the last to finish wins, and every run re-runs the other. */
function sharedOutput(stage: string, a: string, b: string, out: string): DvclError {
  return new DvclError('config', `stage ${stage}: items ${a} and ${b} both write ${out}`, {
    suggestions: ['make `out` unique per item, e.g. with ${name} (the whole file name) instead of ${stem}, or ${dir}/ for items in several folders'],
  });
}

/**
 * An item whose output would leave the project (or be its root): `${stem}` of a file named
 * `...txt` is `..`, so `out/${stem}/${stem}/${stem}.x` climbs out. Refused before anything runs.
 */
function outsideOutput(stage: string, item: string, out: string): DvclError | null {
  if (out !== '.' && out !== '..' && !out.startsWith('../') && !out.startsWith('/')) return null;
  return new DvclError('config', `stage ${stage}: the output of item ${item} would be ${out}, outside the project`, {
    suggestions: ['rename the input file, or build `out` from ${name} rather than ${stem}'],
  });
}

/**
 * Throws when two present items of a per-item stage would write the same output, or one outside
 * the project (exit 2). Returns the items, for evaluateStage while nothing has run since.
 */
export function checkItemOutputs(root: string, stage: StageConfig): ItemListing {
  const outputOf = checkedOutputs(stage);
  const listing = listItems(root, stage);
  for (const item of listing.items) outputOf(item);
  return listing;
}

/**
 * Each item's output in turn, prepared once per stage (100,000s of items); throws (exit 2) when
 * one lies outside the project or where no out may be (reserved.ts), or is also an earlier item's.
 */
function checkedOutputs(stage: StageConfig): (item: string) => string {
  const outputOf = prepareOutput(stage.out!);
  const writers = new Map<string, string>();
  return (item) => {
    const out = outputOf(item);
    const outside = outsideOutput(stage.name, item, out);
    if (outside) throw outside;
    const why = reservedOut(out);
    if (why) {
      throw new DvclError('config', `stage ${stage.name}: the output of item ${item} would be ${out}, which ${why}`, {
        suggestions: [`${RESERVED_HINT}; build \`out\` so that no item's output lands there`],
      });
    }
    const other = writers.get(out);
    if (other !== undefined) throw sharedOutput(stage.name, other, item, out);
    writers.set(out, item);
    return out;
  };
}

function evaluatePerItem(ctx: EvalContext, stage: StageConfig, inputs: StageInputs, reasons: Reason[], upstreamStale: string[], opts: EvalOptions): Evaluation {
  const stageKey = (deps: [string, string | null][]) => canonicalText({ cmd: inputs.cmd, wdir: inputs.wdir, env: inputs.env, deps, params: inputs.params, out: stage.out })!;
  const stageHash = ctx.hasher.hashString(stageKey(inputs.deps.map((d) => [d.path, d.hash])));
  // An item recorded before settings.hash changed has a stage hash of the other algorithm, over
  // its deps' hashes of that algorithm: computed once per algorithm met.
  const stageHashes = new Map<Hasher, string>([[ctx.hasher, stageHash]]);
  const stageHashWith = (h: Hasher): string => {
    let sh = stageHashes.get(h);
    if (sh === undefined) stageHashes.set(h, (sh = h.hashString(stageKey(inputs.deps.map((d) => [d.path, h.hash(d.path)?.hash ?? null])))));
    return sh;
  };
  const present: { item: string; hash: string; output: string }[] = [];
  const tasks: ItemTask[] = [];
  const givenUp: string[] = [];
  const failedItems: FailedItem[] = [];
  let failedLeft = 0;
  let pending = 0;
  let outputsMissing = 0; // share: pending only because the recorded output is missing (restorable, --allow-missing)
  let matched = 0; // present items that have a record: fewer than the records means some were dropped
  // Prepared once per stage, not per item (100,000s of items): the output template, the recorded
  // items, and the argument of itemNeedsRun (which keeps no reference to it). Items listed by
  // checkItemOutputs were checked there.
  const outputOf = opts.items ? prepareOutput(stage.out!) : checkedOutputs(stage);
  const records = ctx.manifest.stage(stage.name)?.items;
  const now: PresentItem = { hash: '', stage_hash: stageHash, outputExists: false, outputHash: null, maxAttempts: ctx.maxAttempts, force: opts.force };
  const listing = opts.items ?? listItems(ctx.cfg.root, stage);
  for (const item of listing.items) {
    const rec = records?.[item];
    // Each recorded hash is checked with its own algorithm (see Hasher.for).
    const hasher = ctx.hasher.for(rec?.hash);
    const h = hasher.hash(item);
    if (!h) continue; // vanished between glob and hash
    const out = outputOf(item);
    if (rec) matched++;
    // One stat per output: hashing a recorded output also says whether it exists (100,000s of items).
    const outputHash = rec?.status === 'success' ? ctx.hasher.for(rec.output_hash).hash(out)?.hash ?? null : null;
    const stageHasher = ctx.hasher.for(rec?.stage_hash);
    now.stage_hash = stageHasher === ctx.hasher ? stageHash : stageHashWith(stageHasher);
    now.hash = h.hash;
    now.outputHash = outputHash;
    // Only a successful record looks at its output: a new or failed item runs whether it exists or not.
    now.outputExists = outputHash !== null;
    const d = ctx.manifest.itemNeedsRun(stage.name, item, now);
    // retry --only-failed: items whose last attempt failed, also when their input or the stage changed
    // since (fixing the input or the script is how a failure is usually fixed).
    const why = d.run && (!opts.onlyFailed || rec?.status === 'failed') ? d.why : null;
    // An item that runs is recorded anew, with the configured algorithm.
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
  const entry = ctx.lock.stages[stage.name];
  const recorded = ctx.manifest.stage(stage.name)?.items ?? {};
  const names = Object.keys(recorded);
  const known = names.length > 0;
  let dropped: string[] = [];
  // Inputs that a stale upstream stage writes are not gone yet: it runs first (in a fresh clone, with
  // its outs git-ignored, none exist). The run evaluates this stage again once that stage is done.
  const inputsComing = upstreamStale.some((u) => ctx.cfg.dag.edges.some((e) => e.from === u && e.to === stage.name && stage.foreach!.includes(e.dep)));
  if (names.length > matched && !inputsComing) {
    const here = new Set(present.map((p) => p.item));
    dropped = names.filter((i) => !here.has(i)).sort(cmp);
  }
  if (!entry && !known) reasons.push({ code: 'never_run' });
  if (known && pending === 0 && failedLeft === 0 && givenUp.length === 0 && !opts.force) {
    // Every item is done, but the lock entry is missing (lost in a merge) or describes another set of
    // items (inputs deleted since): nothing runs, the next repro only rewrites the entry.
    if (!entry) reasons.push({ code: 'never_run' });
    else {
      const now = itemsHash(ctx.hasher.for(entry.items?.hash), present, recorded);
      if (entry.items?.hash !== now) reasons.push({ code: 'dep_changed', path: stage.foreach!.join(' '), old: entry.items?.hash ?? null, new: now });
    }
  }
  if (entry && pending > 0) reasons.push(...inputReasons(ctx, inputs, entry).filter((r) => r.code !== 'dep_changed' || r.new !== null || !isProduced(ctx.cfg, r.path)));
  if (pending > 0) reasons.push({ code: 'items_pending', count: pending, ...(outputsMissing ? { outputs_missing: outputsMissing } : {}) }); // share: outputs_missing
  if (dropped.length > 0) reasons.push({ code: 'items_dropped', count: dropped.length });
  if (failedLeft > 0 || givenUp.length > 0) reasons.push({ code: 'items_failed', count: failedLeft, ...(givenUp.length ? { given_up: givenUp.length } : {}) });
  if (stage.always_changed) reasons.push({ code: 'always_changed' });
  for (const u of upstreamStale) reasons.push({ code: 'upstream_stale', stage: u });
  if (opts.force) reasons.push({ code: 'forced' });
  const failedNow = failedLeft + givenUp.length;
  const stats: ItemStats = { total: present.length, success: present.length - pending - failedNow, failed: failedNow, pending, given_up: givenUp.length };
  const state: StageState = failedLeft > 0 || givenUp.length > 0 ? 'failed' : reasons.length ? 'stale' : 'up_to_date';
  const status: StageStatus = { name: stage.name, state, reasons, items: stats };
  if (failedItems.length) status.failed_items = failedItems;
  if (listing.skipped.length) status.skipped = listing.skipped.map((p) => ({ path: p, reason: 'name_not_utf8' }));
  // A glob over files no stage produces that matches nothing is a typo, not an empty input set.
  if (ctx.cfg.dag.upstream.get(stage.name)?.size === 0) {
    const unmatched = stage.foreach!.filter((g) => { const m = picomatch(g); return !listing.items.some((i) => m(i)); });
    if (unmatched.length) status.unmatched_globs = unmatched;
  }
  return { status, inputs, items: { present, tasks, stageHash, stageHashes: [...stageHashes.values()], givenUp, dropped } };
}

/** One hash over a per-item stage's (input, input hash, output hash) triples: its lock entry's `items.hash`. */
export function itemsHash(hasher: Hasher, present: { item: string; hash: string }[], items: Record<string, ItemRecord>): string {
  return hasher.hashParts(itemLines(present, items));
}

/** The lines itemsHash hashes, one per present item, made as the hash takes them (not ~10 MB at once). */
function* itemLines(present: { item: string; hash: string }[], items: Record<string, ItemRecord>): Generator<string> {
  for (const p of present) yield `${p.item}\0${p.hash}\0${items[p.item]?.output_hash ?? ''}\n`;
}

export interface StatusReport { up_to_date: boolean; stages: StageStatus[] }

/** `dvcl status`: every selected stage in dependency order, with its reasons. Changes nothing. */
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
  return { up_to_date: stages.every((s) => s.state === 'up_to_date' || s.state === 'frozen'), stages };
}
