// `dvcl repro` and `dvcl retry`: config, warnings, run lock, project, plan, schedule.
import { cloneWarnings } from './clone-health.js';
import { checkTargets, loadProjectConfig, lockForWriting, openProject } from './project.js';
import { planDryRun, selectForRun } from '../run/plan.js';
import { ProcessGroups } from '../run/process-groups.js';
import { runSelected } from '../run/schedule.js';
import { RunSession } from '../run/session.js';
import type { ReproOptions, ReproResult } from '../run/types.js';

/** Bring the selected stages up to date, in parallel where the DAG allows. */
export async function repro(opts: ReproOptions): Promise<ReproResult> {
  const rep = opts.reporter ?? {};
  const cfg = loadProjectConfig(opts.cwd);
  const targets = opts.targets ?? [];
  checkTargets(cfg, targets);
  for (const w of await cloneWarnings(cfg.root)) rep.warn?.(w);
  if (opts.dryRun) {
    const s = new RunSession(await openProject({ cwd: opts.cwd, cfg, readOnly: true, onWarning: rep.warn }), opts, rep, new ProcessGroups());
    return planDryRun(s, selectForRun(s, targets));
  }
  // The state is read under the run lock: only its holder recovers a crashed run's journal.
  const runLock = await lockForWriting(cfg, `dvcl ${(opts.argv ?? []).join(' ')}`.trim(), rep.warn);
  try {
    const s = new RunSession(await openProject({ cwd: opts.cwd, cfg, onWarning: rep.warn }), opts, rep, runLock.groups);
    return await runSelected(s, selectForRun(s, targets));
  } finally {
    await runLock.release();
  }
}
