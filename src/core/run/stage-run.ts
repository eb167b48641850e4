// Running one stage that is not per-item: its commands, its outs checked and hashed, then its
// record and lock entry (in that order).
import fs from 'node:fs';
import type { StageConfig } from '../pipeline.js';
import { oneLine } from '../errors.js';
import { cmp, type LockPath } from '../ledger/lock.js';
import type { Evaluation } from '../status/status.js';
import { abs } from '../util/paths.js';
import { failureReason, runShell, scriptOf, wdirProblem } from './exec.js';
import { checkPlaced, prepareOuts } from '../store/outs.js';
import type { RunSession } from './session.js';
import type { StageRun } from './types.js';

export async function runStage(s: RunSession, stage: StageConfig, ev: Evaluation, prio: number): Promise<StageRun> {
  await s.slots.acquire(prio);
  const reasons = ev.status.reasons;
  const root = s.p.cfg.root;
  let logFd: number | undefined;
  try {
    // Waited for a slot while another stage failed (without -k) or a signal came: start nothing new.
    if (s.stopped) return { result: 'not_run', reasons, error: s.stopReason() };
    await s.ensureRun();
    s.rep.stageStart?.(stage.name, ev);
    const fail = (error: string): StageRun => {
      s.recordStageResult(stage.name, error);
      s.stopUnlessKeepGoing();
      return { result: 'failed', reasons, error };
    };
    const noWdir = wdirProblem(root, stage.wdir);
    if (noWdir) return fail(noWdir);
    const hit = await s.runCache.restore(stage, ev);
    if (hit) {
      const done = record(s, stage, ev, hit.outs);
      return done ?? { result: 'restored', reasons, restored_from: hit.from };
    }
    try {
      prepareOuts(root, stage.outs, stage.persist);
    } catch (e) {
      return fail((e as Error).message);
    }
    logFd = s.openLog(stage.name);
    for (const cmd of stage.cmd) {
      const r = await runShell({
        shell: s.p.cfg.settings.shell, cmd: scriptOf(cmd), cwd: abs(root, stage.wdir), env: s.env(stage), logFd, groups: s.groups, launchers: s.launchers,
        onLine: (st, l) => s.rep.stageOutput?.(stage.name, st, l),
      });
      if (s.interrupted) return { result: 'failed', reasons, error: `interrupted (${s.interrupted})` };
      if (r.code !== 0) return fail(failureReason(r));
    }
    const outs: LockPath[] = [];
    for (const o of stage.outs) {
      try {
        checkPlaced(root, o);
      } catch (e) {
        return fail((e as Error).message);
      }
      const h = s.p.hasher.hash(o);
      if (!h) return fail(`declared out ${oneLine(o)} was not produced by the command`);
      outs.push({ path: o, hash: h.hash, size: h.size, ...(h.isDir ? { nfiles: h.nfiles ?? 0 } : {}) });
    }
    outs.sort((a, b) => cmp(a.path, b.path));
    const failed = record(s, stage, ev, outs);
    if (failed) return failed;
    s.runCache.record(stage, ev, outs);
    return { result: 'ran', reasons };
  } finally {
    if (logFd !== undefined) fs.closeSync(logFd);
    s.slots.release();
  }
}

/** The stage's record and lock entry for these outs, as a run writes them; a failure to write fails the stage. */
function record(s: RunSession, stage: StageConfig, ev: Evaluation, outs: LockPath[]): StageRun | null {
  const entry = s.lockEntry(ev, outs);
  const kept = s.keptEntry(stage.name, entry);
  // The record first, then the lock entry: a kill between the two leaves a success that has no
  // entry yet (the stage runs again), never an entry whose run the manifest knows nothing of
  // while it still says the stage failed (issue 11).
  if (!(kept && s.p.manifest.stage(stage.name)?.status === 'success')) s.recordStageResult(stage.name);
  if (!kept) {
    try {
      s.p.lockFile.set(stage.name, entry);
    } catch (e) {
      const error = (e as Error).message;
      s.recordStageResult(stage.name, error);
      s.stopUnlessKeepGoing();
      return { result: 'failed', reasons: ev.status.reasons, error };
    }
  }
  for (const o of outs) s.cache?.add(o.path, o.hash);
  return null;
}
