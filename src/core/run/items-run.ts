// Running a per-item stage: its items through the pool and the item shells, each recorded as it
// ends; then, once every present item succeeded, the stage's lock entry.
import fs from 'node:fs';
import type { StageConfig } from '../pipeline.js';
import { itemsHash, sameInputs, type Evaluation } from '../status/status.js';
import { applyDrop, keptWarning } from './dropped-items.js';
import { wdirProblem } from './exec.js';
import { ItemExecutor, type StartedItem } from './item-exec.js';
import { runItemPool } from './item-pool.js';
import { dropPlan } from './plan.js';
import type { RunSession } from './session.js';
import type { StageResult, StageRun } from './types.js';

export async function runItems(s: RunSession, stage: StageConfig, ev: Evaluation, prio: number): Promise<StageRun> {
  const { tasks, stageHash } = ev.items!;
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
  if (s.interrupted) return { result: 'failed', reasons, error: `interrupted (${s.interrupted})`, items: s.itemCounts(ev, done, ok, failed) };
  const counts = s.itemCounts(ev, done, ok, failed);
  const stillFailed = ev.items!.present.filter((p) => s.p.manifest.stage(stage.name)?.items?.[p.item]?.status === 'failed').length;
  if (stillFailed > 0) {
    s.recordStageResult(stage.name, `${stillFailed} item${stillFailed > 1 ? 's' : ''} failed`);
    return { result: 'failed', reasons, items: counts, error: `${stillFailed} of ${ev.items!.present.length} items failed` };
  }
  await refreshItemsLock(s, stage, ev, true);
  return { result: 'ran', reasons, items: counts };
}

// Written only when every present item succeeded in its present version (retry --only-failed may leave some
// pending), and only when its content changed.
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
