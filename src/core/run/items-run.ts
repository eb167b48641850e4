// Running a per-item stage: its items through the pool and the item shells, each recorded as it
// ends; then, once every present item succeeded, the stage's lock entry.
import fs from 'node:fs';
import type { StageConfig } from '../pipeline.js';
import { itemsHash, sameInputs, type Evaluation, type ItemTask } from '../status/status.js';
import { applyDrop, keptWarning } from './dropped-items.js';
import { wdirProblem } from './exec.js';
import { ItemExecutor, type StartedItem } from './item-exec.js';
import { runItemPool } from './item-pool.js';
import { dropPlan } from './plan.js';
import type { RunSession } from './session.js';
import { itemRunKey, type RestoredFrom } from './run-cache.js';
import type { StageResult, StageRun } from './types.js';

export async function runItems(s: RunSession, stage: StageConfig, evaluated: Evaluation, prio: number): Promise<StageRun> {
  const ev = s.shard ? await s.shard.begin(s, stage, evaluated) : evaluated;
  const { stageHash } = ev.items!;
  const reasons = ev.status.reasons;
  // Every item would fail to start, and spend an attempt: the stage fails instead, no item recorded.
  const noWdir = wdirProblem(s.p.cfg.root, stage.wdir);
  if (noWdir) {
    await s.ensureRun();
    s.recordStageResult(stage.name, noWdir);
    s.stopUnlessKeepGoing();
    return { result: 'failed', reasons, error: noWdir };
  }
  // The run record (git state) is read while the first items run; they are recorded after it.
  const runReady = s.ensureRun();
  const { tasks, restored, from } = await restoreItems(s, stage, ev, runReady);
  s.rep.stageStart?.(stage.name, ev, tasks.length);
  const logFd = s.openLog(stage.name);
  const exec = new ItemExecutor({
    root: s.p.cfg.root, stateDir: s.p.stateDir, shell: s.p.cfg.settings.shell, stage, env: (extra) => s.env(stage, extra),
    hasher: s.p.hasher, manifest: s.p.manifest, runId: s.runId, stageHash, logFd, groups: s.groups, interrupted: () => Boolean(s.interrupted), cache: s.cache,
    onFailure: (item, reason) => {
      const [first, ...rest] = reason.split('\n');
      s.rep.stageOutput?.(stage.name, 'stderr', `${item} failed: ${first}`);
      for (const l of rest) s.rep.stageOutput?.(stage.name, 'stderr', `    ${l}`);
    },
  });
  let done = 0;
  let ok = 0;
  let failed = 0;
  const finish = async (started: StartedItem): Promise<boolean> => {
    await runReady;
    const r = await exec.finish(started);
    if (r === 'not_started') return false;
    if (r === 'interrupted') return true;
    done++;
    s.shard?.note(started.t.item);
    if (r === 'ok') ok++;
    else {
      failed++;
      s.stopUnlessKeepGoing(); // the stage will fail: start no other stage
    }
    s.rep.itemDone?.(stage.name, done, tasks.length, failed);
    return true;
  };
  try {
    await runItemPool({
      tasks, workers: s.opts.jobs ?? s.p.cfg.settings.jobs, exec, slots: s.slots, prio,
      stopped: () => Boolean(s.interrupted), finish,
    });
  } finally {
    fs.closeSync(logFd);
  }
  if (s.shard) return shardEnd(s, ev, { done, ok, failed, restored });
  if (s.interrupted) return { result: 'failed', reasons, error: `interrupted (${s.interrupted})`, items: s.itemCounts(ev, done, ok, failed) };
  if (ok > 0) s.runCache.recordItems(stage, ev, succeeded(s, stage, ev));
  const counts = { ...s.itemCounts(ev, done, ok, failed), ...(restored ? { restored } : {}) };
  const stillFailed = ev.items!.present.filter((p) => s.p.manifest.stage(stage.name)?.items?.[p.item]?.status === 'failed').length;
  if (stillFailed > 0) {
    s.recordStageResult(stage.name, `${stillFailed} item${stillFailed > 1 ? 's' : ''} failed`);
    return { result: 'failed', reasons, items: counts, error: `${stillFailed} of ${ev.items!.present.length} items failed` };
  }
  await refreshItemsLock(s, stage, ev, true);
  if (restored > 0 && done === 0) return { result: 'restored', reasons, items: counts, restored_from: from };
  return { result: 'ran', reasons, items: counts };
}

/** A shard records items only: its fragments go up, and `gather` writes the stage's record and lock entry. */
async function shardEnd(s: RunSession, ev: Evaluation, n: { done: number; ok: number; failed: number; restored: number }): Promise<StageRun> {
  await s.shard!.finish();
  const items = { ...s.itemCounts(ev, n.done, n.ok, n.failed), ...(n.restored ? { restored: n.restored } : {}) };
  const reasons = ev.status.reasons;
  if (s.interrupted) return { result: 'failed', reasons, error: `interrupted (${s.interrupted})`, items };
  if (n.failed > 0) return { result: 'failed', reasons, items, error: `${n.failed} of ${ev.items!.present.length} items of the shard failed` };
  return { result: 'ran', reasons, items };
}

/**
 * Items whose manifest record is a success for this stage key and this input, and that run only
 * because their output is missing or not the recorded one: their output is placed from its object
 * (the local cache, or the remote in mode `remote`) instead. The rest are left to run.
 */
async function restoreItems(s: RunSession, stage: StageConfig, ev: Evaluation, runReady: Promise<void>): Promise<{ tasks: ItemTask[]; restored: number; from: RestoredFrom }> {
  const { tasks, stageHashes, stageHash } = ev.items!;
  if (s.runCache.mode === 'off' || tasks.length === 0) return { tasks, restored: 0, from: 'local' };
  const items = s.p.manifest.stage(stage.name)?.items ?? {};
  const recorded = await s.runCache.itemOutputs(stage, stageHash);
  const left: ItemTask[] = [];
  let restored = 0;
  let from: RestoredFrom = 'local';
  for (const t of tasks) {
    const rec = items[t.item];
    const ok = (t.why === 'output_missing' || t.why === 'output_changed') && rec?.status === 'success' && rec.hash === t.hash
      && stageHashes.includes(rec.stage_hash ?? '') && rec.output === t.vars.out && rec.output_hash !== undefined && rec.output_nfiles === undefined;
    let got = ok ? await s.runCache.restoreFile(t.vars.out, rec.output_hash!) : null;
    const output = recorded.get(itemRunKey(t.item, t.hash));
    if (got === null && output !== undefined && (got = await s.runCache.restoreFile(t.vars.out, output)) !== null) {
      await runReady;
      s.p.manifest.recordSuccess(stage.name, t.item, { hash: t.hash, stage_hash: stageHash, output: t.vars.out, output_hash: output, run: s.runId });
    }
    if (got === null) left.push(t);
    else {
      restored++;
      s.shard?.note(t.item);
      if (got === 'remote') from = 'remote';
    }
  }
  return { tasks: left, restored, from };
}

/**
 * The lock entry of a per-item stage: shared deps, params, and one hash over every item. Written
 * only when every present item succeeded in its present version (retry --only-failed may leave
 * new or changed items pending: the stage is then not complete), and its content changed.
 * After its items ran (`ran`), the stage's record too, unless it is a success kept with the entry.
 */
export async function refreshItemsLock(s: RunSession, stage: StageConfig, ev: Evaluation, ran = false): Promise<void> {
  const items = s.p.manifest.stage(stage.name)?.items ?? {};
  const { present, stageHashes } = ev.items!;
  const complete = present.every((p) => items[p.item]?.status === 'success' && items[p.item].hash === p.hash && stageHashes.includes(items[p.item].stage_hash ?? ''));
  // An entry recorded with another algorithm than settings.hash is compared with its own: when
  // nothing changed it stays as it is, not rewritten with new hashes of the same content.
  const old = s.p.lockFile.entry(stage.name);
  const asRecorded = complete && old?.items !== undefined && old.out === stage.out
    && old.items.hash === itemsHash(s.p.hasher.for(old.items.hash), present, items) && sameInputs(s.ctx, ev.facts, old);
  const entry = complete ? s.lockEntry(ev, [], { out: stage.out, items: { count: present.length, hash: itemsHash(s.p.hasher, present, items) } }) : null;
  const write = entry !== null && !asRecorded && !s.keptEntry(stage.name, entry);
  if (!ran && !write) return;
  await s.ensureRun();
  // Every item succeeded, but a run killed after its last item never recorded the stage itself,
  // or its record is an old failure. Recorded before the entry, as in runStage.
  const rec = s.p.manifest.stage(stage.name);
  const keepRecord = rec?.status === 'success' && Boolean(rec.run) && (!ran || (entry !== null && !write));
  if (!keepRecord) s.recordStageResult(stage.name);
  if (!write) return;
  s.p.manifest.commitRun(); // the entry refers to this run
  s.p.lockFile.set(stage.name, { ...entry, git: s.lockEntry(ev, []).git });
}

export async function dropItems(s: RunSession, stage: StageConfig, ev: Evaluation): Promise<Pick<StageResult, 'removed_outputs' | 'kept_outputs'> | undefined> {
  const plan = dropPlan(s, stage.name, ev);
  if (!plan) return undefined;
  await s.ensureRun();
  // Removed outputs may be another per-item stage's inputs: the items listed before the run are stale.
  s.anyStarted = true;
  const { removed, kept } = applyDrop(s.p.cfg.root, s.p.manifest, stage.out!, plan);
  for (const k of kept) s.rep.warn?.(keptWarning(stage.name, k));
  return { removed_outputs: removed, kept_outputs: kept.map((k) => k.path).sort() };
}

/** (item, input hash) → output hash of every item that succeeded with the present stage key. */
function succeeded(s: RunSession, stage: StageConfig, ev: Evaluation): Map<string, string> {
  const items = s.p.manifest.stage(stage.name)?.items ?? {};
  const pairs = new Map<string, string>();
  for (const p of ev.items!.present) {
    const rec = items[p.item];
    // A directory output is placed by pull and checkout, not restored here: it runs.
    if (rec?.status === 'success' && rec.stage_hash === ev.items!.stageHash && rec.output_hash !== undefined && rec.output_nfiles === undefined) pairs.set(itemRunKey(p.item, rec.hash), rec.output_hash);
  }
  return pairs;
}
