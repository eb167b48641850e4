// run/: carrying out a run. This module: each selected stage starts when its upstream is done (in parallel
// where the DAG allows, job slots to the longest remaining chain first), is evaluated afresh, then runs.
import { chainLengths } from '../graph/dag.js';
import { isoTime } from '../ledger/manifest.js';
import { evaluateStage, stageWarnings } from '../status/status.js';
import { dropItems, refreshItemsLock, runItems } from './items-run.js';
import { shouldRun } from './plan.js';
import type { RunSession } from './session.js';
import { runStage } from './stage-run.js';
import type { ReproResult, StageResult, StageRun } from './types.js';

export async function runSelected(s: RunSession, selected: string[]): Promise<ReproResult> {
  const { cfg, manifest } = s.p;
  const results = new Map<string, StageResult>();
  s.begin();
  try {
    const chain = chainLengths(cfg.dag);
    const tasks = new Map<string, Promise<StageResult>>();
    for (const name of selected) {
      const ups = [...cfg.dag.upstream.get(name)!].filter((u) => tasks.has(u)).map((u) => tasks.get(u)!);
      tasks.set(name, stageTask(s, name, ups, chain.get(name) ?? 0, results));
    }
    await Promise.all(tasks.values());
  } finally {
    const run = manifest.data.runs[s.runId];
    if (run) manifest.recordRun(s.runId, { ...run, finished_at: isoTime() });
    manifest.save();
    s.p.hasher.save();
  }
  const stages = selected.map((n) => results.get(n)!);
  // Items given up after max_attempts are failures too: they are reported, not run, and the exit is 1.
  const ok = !s.interrupted && stages.every((r) => r.result !== 'failed' && r.result !== 'not_run' && !r.items?.given_up);
  return { ok, interrupted: s.interrupted, run: s.runId, stages };
}

async function stageTask(s: RunSession, name: string, ups: Promise<StageResult>[], prio: number, results: Map<string, StageResult>): Promise<StageResult> {
  const upResults = await Promise.all(ups);
  const start = Date.now();
  const finish = (r: StageRun): StageResult => {
    const res = { name, duration_ms: Date.now() - start, ...r };
    results.set(name, res);
    s.rep.stageEnd?.(res);
    return res;
  };
  const blocked = upResults.find((u) => u.result === 'failed' || u.result === 'not_run');
  if (blocked) return finish({ result: 'not_run', reasons: [], error: `upstream stage ${blocked.name} did not complete` });
  if (s.stopped) return finish({ result: 'not_run', reasons: [], error: s.stopReason() });
  // Fresh evaluation now that upstream is done: identical upstream outs mean nothing changed here (early cutoff).
  const stage = s.byName.get(name)!;
  const ev = evaluateStage(s.ctx, stage, [], s.evalOptions(name));
  for (const w of stageWarnings(ev.status)) s.rep.warn?.(w);
  let dropped: Awaited<ReturnType<typeof dropItems>>;
  try {
    dropped = s.shard ? undefined : await dropItems(s, stage, ev); // a shard's gather drops them
  } catch (e) {
    s.stopUnlessKeepGoing(); // e.g. the journal could not be written
    return finish({ result: 'failed', reasons: ev.status.reasons, error: (e as Error).message });
  }
  if (!shouldRun(ev) && !s.shard) {
    if (ev.items) await refreshItemsLock(s, stage, ev); // e.g. inputs were deleted: nothing to run, a new items hash
    const givenUp = ev.items?.givenUp.length ?? 0;
    if (givenUp > 0) {
      // Nothing left to try, but the stage is not complete: downstream must not run on partial data.
      s.stopUnlessKeepGoing();
      return finish({ result: 'failed', reasons: ev.status.reasons, items: s.itemCounts(ev, 0, 0, 0), ...dropped, error: `${givenUp} item${givenUp > 1 ? 's' : ''} given up after ${s.ctx.maxAttempts} failed attempts (raise with retry --max-attempts)` });
    }
    // Dropping items changed the stage's outputs: it ran, and what reads them is evaluated again.
    return finish({ result: dropped ? 'ran' : 'skipped', reasons: ev.status.reasons, ...(ev.status.state === 'frozen' ? { frozen: true as const } : {}), ...(ev.items ? { items: s.itemCounts(ev, 0, 0, 0) } : {}), ...dropped });
  }
  let r: StageRun;
  s.anyStarted = true;
  try {
    r = ev.items ? await runItems(s, stage, ev, prio) : await runStage(s, stage, ev, prio);
  } catch (e) {
    // An I/O error (a full disk writing pipeline.lock or the journal) fails this stage like any
    // failure: the stages already running finish, under the run lock, before dvcl exits.
    r = { result: 'failed', reasons: ev.status.reasons, error: (e as Error).message };
  }
  if (r.result === 'failed') s.stopUnlessKeepGoing();
  return finish({ ...r, ...dropped });
}
