import fs from 'node:fs';
import { readLock, writeLock } from '../ledger/lock.js';
import { loadProjectConfig, lockForWriting, openProject } from './project.js';
import { abs } from '../util/paths.js';

export interface PruneResult {
  dry_run: boolean;
  /** Items whose input file no longer exists. */
  items: { stage: string; item: string }[];
  /** Stages no longer in .pipelinerc, dropped from the lock and the manifest. */
  stages: string[];
  /** Run records nothing refers to any more. */
  runs: string[];
}

/**
 * `dvcl prune --deleted`: forget what no longer exists. Only pipeline.lock and .manifest.json
 * change; no file of the user's is ever deleted (outputs of vanished inputs stay where they are).
 */
export async function prune(opts: { cwd: string; dryRun?: boolean; onWarning?: (m: string) => void }): Promise<PruneResult> {
  const dry = Boolean(opts.dryRun);
  const cfg = loadProjectConfig(opts.cwd);
  const runLock = dry ? null : await lockForWriting(cfg, 'dvcl prune --deleted', opts.onWarning);
  try {
    const p = await openProject({ cwd: opts.cwd, cfg, readOnly: dry, onWarning: opts.onWarning });
    const known = new Set(p.cfg.stages.map((s) => s.name));
    const m = p.manifest;
    const lock = readLock(p.cfg.root);
    const stages = [...new Set([...Object.keys(m.data.stages), ...Object.keys(lock.stages)])].filter((s) => !known.has(s)).sort();
    const items: PruneResult['items'] = [];
    for (const [stage, rec] of Object.entries(m.data.stages)) {
      if (!known.has(stage)) continue;
      for (const item of Object.keys(rec.items ?? {}).sort()) {
        if (!fs.existsSync(abs(p.cfg.root, item))) items.push({ stage, item });
      }
    }
    const result: PruneResult = { dry_run: dry, items, stages, runs: [] };
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
    const byStage = new Map<string, string[]>();
    for (const i of items) byStage.set(i.stage, [...(byStage.get(i.stage) ?? []), i.item]);
    for (const [stage, list] of byStage) m.removeItems(stage, list);
    if (stages.length) {
      for (const s of stages) delete lock.stages[s];
      writeLock(p.cfg.root, lock);
    }
    result.runs = m.pruneRuns(Object.values(lock.stages).map((e) => e.run));
    m.save();
    return result;
  } finally {
    await runLock?.release();
  }
}
