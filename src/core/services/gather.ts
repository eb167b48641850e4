// `dvcl gather`: the shards' fragments for the current commit, folded into the ledger.
import { checkTargets, loadProjectConfig, lockForWriting, openProject } from './project.js';
import { DvclError, oneLine } from '../errors.js';
import { gitInfo } from '../git/git.js';
import { commitOfKey, FragmentFold, groupByInputs, parseFragment, stagePrefix, type Fragment } from '../ledger/fragment.js';
import { cmp, sameEntryContent, type LockEntry } from '../ledger/lock.js';
import type { ItemRecord, StageRecord } from '../ledger/manifest-format.js';
import type { Project } from '../project.js';
import { readObject, type ObjectStore } from '../store/object-store.js';
import { configuredRemote, remoteBase } from '../store/remote-index.js';
import { itemsHash } from '../status/status.js';
import { deepEqual } from '../util/exact.js';

export interface GatherOptions {
  cwd: string;
  targets?: string[];
  remote?: string;
  jobs?: number;
  dryRun?: boolean;
  onWarning?: (msg: string) => void;
}

export interface StageGather {
  stage: string;
  fragments: number;
  /** The shards (K of `shard_count`) that sent at least one fragment. */
  shards: number[];
  shard_count: number | null;
  items_total: number | null;
  /** Item records written (dry run: to write). */
  recorded: number;
  /** Items no fragment records a success of, for the current inputs: in no listing yet, pending or failed. */
  uncovered: number;
  failed: number;
  /** Shards that sent nothing, when every fragment says the same N. */
  missing_shards: number[];
  /** Every item succeeded: the stage's record and lock entry are written. */
  complete: boolean;
  /** Fragments not gathered, and why (another commit, unreadable). */
  refused: { key: string; reason: string }[];
}

export interface GatherResult { commit: string; remote: string; dry_run: boolean; changed: boolean; stages: StageGather[] }

/** A fragment without its records and listing: those went into the fold as it was read. */
type Header = Omit<Fragment, 'items' | 'present' | 'runs'>;
interface Read { stage: string; frags: { key: string; frag: Header }[]; fold: FragmentFold; refused: StageGather['refused'] }

export async function gather(opts: GatherOptions): Promise<GatherResult> {
  const cfg = loadProjectConfig(opts.cwd);
  const targets = checkTargets(cfg, opts.targets ?? [], { cwd: opts.cwd });
  const stages = (targets.length ? cfg.stages.filter((s) => targets.includes(s.name)) : cfg.stages).filter((s) => s.foreach);
  const notPerItem = targets.filter((t) => !stages.some((s) => s.name === t));
  if (notPerItem.length) throw new DvclError('config', `gather: ${notPerItem.join(', ')} ${notPerItem.length > 1 ? 'are not per-item stages' : 'is not a per-item stage'} (no foreach): only those run in shards`, { exit: 2 });
  const remote = configuredRemote(cfg, opts.remote);
  const { noRemote, openRemote } = await import('../store/remote.js');
  if (!remote) throw noRemote();
  const commit = (await gitInfo(cfg.root)).commit;
  if (!commit) throw new DvclError('config', 'gather needs a git commit: it folds the fragments of the commit checked out', { exit: 2 });
  const store = await openRemote(remote.url, remote.options, { cwd: remoteBase(remote, cfg.root) });
  let reads: Read[];
  try {
    reads = [];
    for (const st of stages) reads.push(await readFragments(store, st.name, commit, opts.jobs ?? store.jobs));
  } finally {
    await store.close();
  }
  for (const r of reads) {
    for (const x of r.refused) opts.onWarning?.(oneLine(`${r.stage}: ${x.key}: ${x.reason}`));
    const groups = groupByInputs(r.frags);
    if (groups.length > 1) {
      const list = groups.map((g) => `${g.keys.length} with stage key ${g.stage_key.slice(0, 19)}… over items ${g.items_set.slice(0, 19)}… (${g.keys[0]}${g.keys.length > 1 ? ', …' : ''})`).join('; ');
      throw new DvclError('failed', `gather: the fragments of stage ${r.stage} at ${commit.slice(0, 12)} ran on different inputs, and cannot be mixed: ${list}`, {
        suggestions: ['inputs outside git differed between workers: delete the wrong fragments from the remote, or run the shards again at a new commit'],
      });
    }
  }
  const dry = Boolean(opts.dryRun);
  const runLock = dry ? null : await lockForWriting(cfg, `dvcl gather ${targets.join(' ')}`.trim(), opts.onWarning);
  try {
    const p = await openProject({ cwd: opts.cwd, cfg, readOnly: dry, onWarning: opts.onWarning });
    const results = reads.map((r) => foldStage(p, r, dry));
    const changed = results.some((r) => r.changed);
    if (!dry && changed) {
      p.manifest.save();
      p.lockFile.flush();
    }
    return { commit, remote: remote.url, dry_run: dry, changed, stages: results.map((r) => r.report) };
  } finally {
    await runLock?.release();
  }
}

async function readFragments(store: ObjectStore, stage: string, commit: string, jobs: number): Promise<Read> {
  const refused: Read['refused'] = [];
  const keys: string[] = [];
  const others = new Map<string, number>();
  for await (const o of store.list(stagePrefix(stage))) {
    const c = commitOfKey(stage, o.key);
    if (c === commit) keys.push(o.key);
    else if (c !== null) others.set(c, (others.get(c) ?? 0) + 1);
  }
  for (const [c, n] of [...others].sort(([a], [b]) => cmp(a, b))) refused.push({ key: `${stagePrefix(stage)}${c}/`, reason: `${n} fragment${n > 1 ? 's' : ''} of another commit, ${c.slice(0, 12)}: gather there (git checkout ${c.slice(0, 12)} && dvcl gather)` });
  const { forEachLimit } = await import('../store/pool.js');
  const frags: Read['frags'] = [];
  const fold = new FragmentFold();
  await forEachLimit(keys, Math.max(1, jobs), async (key) => {
    try {
      const frag = parseFragment((await readObject(store, key)).toString('utf8'), key);
      if (frag.commit !== commit || frag.stage !== stage) refused.push({ key, reason: `says commit ${frag.commit.slice(0, 12)}, stage ${frag.stage}: not where it is stored` });
      else {
        fold.add(frag); // folded now, so that only one fragment's records are held at a time
        const { items: _i, present: _p, runs: _r, ...header } = frag;
        frags.push({ key, frag: header });
      }
    } catch (e) {
      refused.push({ key, reason: oneLine((e as Error).message) });
    }
  });
  frags.sort((a, b) => cmp(a.key, b.key));
  refused.sort((a, b) => cmp(a.key, b.key));
  return { stage, frags, fold, refused };
}

function foldStage(p: Project, r: Read, dry: boolean): { report: StageGather; changed: boolean } {
  const frags = r.frags.map((f) => f.frag);
  const counts = [...new Set(frags.map((f) => f.shard.count))];
  const report: StageGather = {
    stage: r.stage, fragments: frags.length, shards: [], shard_count: counts.length === 1 ? counts[0] : null, items_total: frags[0]?.items_total ?? null,
    recorded: 0, uncovered: 0, failed: 0, missing_shards: [], complete: false, refused: r.refused,
  };
  if (frags.length === 0) return { report, changed: false };
  const m = p.manifest;
  const records = m.stage(r.stage)?.items ?? {}; // read before the recording below changes it
  const folded = r.fold.result(records);
  report.shards = folded.shards;
  if (report.shard_count !== null) for (let k = 1; k <= report.shard_count; k++) if (!folded.shards.includes(k)) report.missing_shards.push(k);
  const changed = folded.changed;
  const recordOf = (item: string): ItemRecord | undefined => (Object.hasOwn(changed, item) ? changed[item] : Object.hasOwn(records, item) ? records[item] : undefined);
  const key = frags[0].stage_key;
  const listed = folded.present.size === frags[0].items_total;
  let ok = 0;
  for (const [item, hash] of folded.present) {
    const rec = recordOf(item);
    if (rec?.hash === hash && rec.stage_hash === key) {
      if (rec.status === 'success') ok++;
      else report.failed++;
    }
  }
  report.uncovered = frags[0].items_total - ok;
  report.complete = listed && ok === frags[0].items_total;
  report.recorded = Object.keys(changed).length;
  // Records of items no worker listed, once every worker has: their inputs are gone.
  const gone = listed ? Object.keys(records).filter((i) => !folded.present.has(i)).sort(cmp) : [];
  const stageRec = report.complete ? stageRecord(recordOf, folded.present) : null;
  const writeStage = stageRec !== null && !deepEqual(withoutItems(m.stage(r.stage)), stageRec);
  if (!dry) {
    // Not journaled: nothing is written before save(), and a gather cut short is run again.
    for (const [id, run] of Object.entries(folded.runs)) if (!deepEqual(m.data.runs[id], run)) m.recordRun(id, run);
    for (const [item, rec] of Object.entries(changed)) m.recordItem(r.stage, item, rec);
    m.removeItems(r.stage, gone);
    if (writeStage) m.recordStage(r.stage, stageRec!);
  }
  const items = dry ? { ...records, ...changed } : m.stage(r.stage)?.items ?? {};
  const entry = report.complete ? lockEntry(p, frags[0], items, folded.present, stageRec!.run!) : null;
  const old = p.lockFile.entry(r.stage);
  const writeEntry = entry !== null && !(old && sameEntryContent(old, entry));
  if (writeEntry && !dry) p.lockFile.set(r.stage, entry);
  return { report, changed: report.recorded > 0 || gone.length > 0 || writeEntry || writeStage };
}

function withoutItems(rec: StageRecord | undefined): Omit<StageRecord, 'items'> | undefined {
  if (!rec) return undefined;
  const { items: _i, ...rest } = rec;
  return rest;
}

/** The stage's record as one run of it would leave it: the latest of its items' runs. */
function stageRecord(recordOf: (item: string) => ItemRecord | undefined, present: Map<string, string>): Omit<StageRecord, 'items'> {
  let run = '';
  let last = '';
  for (const item of present.keys()) {
    const rec = recordOf(item)!;
    if (cmp(rec.run, run) > 0) run = rec.run;
    if (rec.last_processed && cmp(rec.last_processed, last) > 0) last = rec.last_processed;
  }
  return { status: 'success', run, attempts: 1, ...(last ? { last_processed: last } : {}) };
}

/** What `repro` writes once every item succeeded: the shared inputs the workers saw, and one hash over every item. */
function lockEntry(p: Project, f: Header, items: Record<string, ItemRecord>, present: Map<string, string>, run: string): LockEntry {
  const sorted = [...present].map(([item, hash]) => ({ item, hash })).sort((a, b) => cmp(a.item, b.item));
  const { cmd, wdir, env, deps, params, out, git } = f.entry;
  return {
    cmd, ...(wdir ? { wdir } : {}), ...(env ? { env } : {}), deps, params, outs: [], out,
    items: { count: sorted.length, hash: itemsHash(p.hasher, sorted, items) }, git, run,
  };
}
