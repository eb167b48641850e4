// What a run will do and why, before it does anything: the stages it takes, and (dry run) the plan.
import fs from 'node:fs';
import { selectStages } from '../graph/dag.js';
import { DvclError } from '../errors.js';
import { abs } from '../util/paths.js';
import { evaluateStage, stageWarnings, type Evaluation } from '../status/status.js';
import { checkItemOutputs } from '../status/items.js';
import { isProduced } from '../status/decide.js';
import { planDrop, type DropPlan } from './dropped-items.js';
import type { RunSession } from './session.js';
import type { ReproResult, StageResult } from './types.js';

/** A frozen stage cuts off its upstream; refuses (exit 2) a missing dep nothing produces before anything runs. */
export function selectForRun(s: RunSession, targets: string[]): string[] {
  const { cfg } = s.p;
  const how = { single: s.opts.single || s.opts.onlyFailed, downstream: s.opts.downstream, pipeline: s.opts.pipeline };
  const frozen = new Set(cfg.stages.filter((st) => st.frozen).map((st) => st.name));
  let selected = selectStages(cfg.dag, targets, { ...how, frozen });
  if (frozen.size && targets.length) {
    const cut = selectStages(cfg.dag, targets, how).filter((n) => !selected.includes(n));
    const at = [...frozen].filter((f) => selected.includes(f));
    if (cut.length) s.rep.warn?.(`${at.length > 1 ? 'stages' : 'stage'} ${at.join(', ')} ${at.length > 1 ? 'are' : 'is'} frozen: not running ${cut.join(', ')} upstream of ${at.length > 1 ? 'them' : 'it'}, which nothing in this run would read`);
  }
  if (s.opts.onlyFailed) selected = selected.filter((n) => hasFailures(s, n));
  checkMissingDeps(s, selected);
    // Items that upstream stages produce are checked again when their stage starts.
  for (const name of selected) if (s.byName.get(name)!.foreach) s.listed.set(name, checkItemOutputs(cfg.root, s.byName.get(name)!));
  return selected;
}

function hasFailures(s: RunSession, name: string): boolean {
  const rec = s.p.manifest.stage(name);
  return rec?.status === 'failed' || Object.values(rec?.items ?? {}).some((i) => i.status === 'failed');
}

function checkMissingDeps(s: RunSession, selected: string[]): void {
  const missing: string[] = [];
  for (const name of selected) {
    const stage = s.byName.get(name)!;
    if (stage.frozen) continue;
    for (const d of stage.deps) {
      if (!fs.existsSync(abs(s.p.cfg.root, d)) && !isProduced(s.p.cfg, d)) missing.push(`${d} (stage ${name})`);
    }
  }
  if (missing.length) {
    throw new DvclError('dep_missing', `missing dependenc${missing.length > 1 ? 'ies' : 'y'} that no stage produces: ${missing.join(', ')}`, {
      suggestions: ['create the file, or add the stage that writes it to .pipelinerc'],
    });
  }
}

export function shouldRun(ev: Evaluation): boolean {
  if (ev.status.state === 'frozen') return false;
  if (ev.items) return ev.items.tasks.length > 0 || ev.status.reasons.some((r) => r.code === 'always_changed' || r.code === 'forced');
  return ev.status.reasons.length > 0;
}

export function dropPlan(s: RunSession, name: string, ev: Evaluation): DropPlan | null {
  if (!ev.items?.dropped.length || s.opts.onlyFailed) return null;
  const records = s.p.manifest.stage(name)?.items ?? {};
  return planDrop(s.p.hasher, name, records, ev.items.dropped, new Set(ev.items.present.map((p) => p.output)));
}

export function planDryRun(s: RunSession, selected: string[]): ReproResult {
  const willRun = new Set<string>();
  const stages: StageResult[] = [];
  for (const name of selected) {
    const ups = [...s.p.cfg.dag.upstream.get(name)!].filter((u) => willRun.has(u));
    const ev = evaluateStage(s.ctx, s.byName.get(name)!, ups, s.evalOptions(name));
    for (const w of stageWarnings(ev.status)) s.rep.warn?.(w);
    // Below a stage that runs, it runs unless the upstream outs come out the same (early cutoff):
    // the plan says so rather than "up to date".
    const drop = dropPlan(s, name, ev);
    const own = (shouldRun(ev) && (ev.items !== undefined || ev.status.reasons.some((x) => x.code !== 'upstream_stale'))) || drop !== null;
    const mayRun = !own && ups.length > 0 && ev.status.state !== 'frozen';
    if (own || mayRun) willRun.add(name);
    const r: StageResult = {
      name, result: own || mayRun ? 'would_run' : 'skipped', reasons: ev.status.reasons, duration_ms: 0,
      ...(mayRun ? { may_skip: true as const } : {}), ...(ev.status.state === 'frozen' ? { frozen: true as const } : {}),
    };
    if (ev.items) r.items = { total: ev.items.present.length, ran: ev.items.tasks.length, succeeded: 0, failed: 0, given_up: ev.items.givenUp.length };
    if (drop) Object.assign(r, { removed_outputs: drop.remove.map((o) => o.path), kept_outputs: drop.keep.map((k) => k.path) });
    s.rep.stageEnd?.(r);
    stages.push(r);
  }
  return { ok: true, stages };
}
