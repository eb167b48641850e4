import fs from 'node:fs';
import { loadProjectConfig, lockForWriting, openProject } from './project.js';
import { abs } from '../util/paths.js';
import { applyDrop, keptWarning, planDrop, type DropPlan } from '../run/dropped-items.js';

export interface PruneResult {
  dry_run: boolean;
  items: { stage: string; item: string }[];
  /** No longer in .pipelinerc, dropped from the lock and the manifest. */
  stages: string[];
  runs: string[];
  /** Removed (dry run: to remove) because they are still the files dvcl recorded. */
  removed_outputs: string[];
  kept_outputs: string[];
}

/** `dvcl prune --deleted`: no file of the user's is deleted (see dropped-items.ts). */
export async function prune(opts: { cwd: string; dryRun?: boolean; onWarning?: (m: string) => void }): Promise<PruneResult> {
  const dry = Boolean(opts.dryRun);
  const cfg = loadProjectConfig(opts.cwd);
  const runLock = dry ? null : await lockForWriting(cfg, 'dvcl prune --deleted', opts.onWarning);
  try {
    const p = await openProject({ cwd: opts.cwd, cfg, readOnly: dry, onWarning: opts.onWarning });
    const known = new Set(p.cfg.stages.map((s) => s.name));
    const m = p.manifest;
    const lock = p.lock;
    const stages = [...new Set([...Object.keys(m.data.stages), ...Object.keys(lock.stages)])].filter((s) => !known.has(s)).sort();
    const items: PruneResult['items'] = [];
    for (const [stage, rec] of Object.entries(m.data.stages)) {
      if (!known.has(stage)) continue;
      for (const item of Object.keys(rec.items ?? {}).sort()) {
        if (!fs.existsSync(abs(p.cfg.root, item))) items.push({ stage, item });
      }
    }
    const byStage = new Map<string, string[]>();
    for (const i of items) byStage.set(i.stage, [...(byStage.get(i.stage) ?? []), i.item]);
    const plans: DropPlan[] = [];
    const outOf = new Map(p.cfg.stages.map((s) => [s.name, s.out]));
    for (const [stage, list] of byStage) {
      // No longer per-item: its records are dropped, the files they name left alone.
      if (outOf.get(stage) === undefined) {
        plans.push({ stage, items: list, remove: [], keep: [] });
        continue;
      }
      const records = m.stage(stage)?.items ?? {};
      const gone = new Set(list);
      const written = new Set(Object.entries(records).filter(([i]) => !gone.has(i)).map(([, r]) => r.output).filter((o): o is string => o !== undefined));
      plans.push(planDrop(p.hasher, stage, records, list, written));
    }
    const result: PruneResult = {
      dry_run: dry, items, stages, runs: [],
      removed_outputs: plans.flatMap((pl) => pl.remove.map((o) => o.path)).sort(), kept_outputs: plans.flatMap((pl) => pl.keep.map((k) => k.path)).sort(),
    };
    if (dry) {
      // What pruneRuns would drop once the stages and items above are gone.
      const used = new Set(Object.entries(lock.stages).filter(([s]) => known.has(s)).map(([, e]) => e.run));
      const gone = new Set(items.map((i) => `${i.stage}\0${i.item}`));
      for (const [stage, rec] of Object.entries(m.data.stages)) {
        if (!known.has(stage)) continue;
        if (rec.run) used.add(rec.run);
        for (const [item, r] of Object.entries(rec.items ?? {})) if (!gone.has(`${stage}\0${item}`)) used.add(r.run);
      }
      result.runs = Object.keys(m.data.runs).filter((id) => !used.has(id)).sort();
      return result;
    }
    m.newRunId(); // journal the removals like any other change
    for (const s of stages) m.removeStage(s);
    const removed: string[] = [];
    const kept: string[] = [];
    for (const plan of plans) {
      const r = applyDrop(p.cfg.root, m, outOf.get(plan.stage) ?? '.', plan);
      removed.push(...r.removed);
      for (const k of r.kept) {
        kept.push(k.path);
        opts.onWarning?.(keptWarning(plan.stage, k));
      }
    }
    result.removed_outputs = removed.sort();
    result.kept_outputs = kept.sort();
    p.lockFile.remove(stages);
    result.runs = m.pruneRuns(Object.values(lock.stages).map((e) => e.run));
    m.save();
    return result;
  } finally {
    await runLock?.release();
  }
}
