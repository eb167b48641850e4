// `dvcl repro` and `dvcl retry`: config, warnings, run lock, project, plan, schedule.
import { cloneWarnings } from './clone-health.js';
import { checkTargets, loadProjectConfig, lockForWriting, openProject } from './project.js';
import { planDryRun, selectForRun } from '../run/plan.js';
import { ProcessGroups } from '../run/process-groups.js';
import { runSelected } from '../run/schedule.js';
import { RunSession } from '../run/session.js';
import type { Reporter, ReproOptions, ReproResult } from '../run/types.js';
import { oneLine } from '../errors.js';
import { configuredRemote } from '../store/remote-index.js';

const LOCK_WRITE_INTERVAL_MS = 200;

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
  if (opts.pull || (cfg.settings.run_cache === 'pull' && configuredRemote(cfg))) await pullFirst(opts, rep);
  // The state is read under the run lock: only its holder recovers a crashed run's journal.
  const runLock = await lockForWriting(cfg, `dvcl ${(opts.argv ?? []).join(' ')}`.trim(), rep.warn);
  try {
    const s = new RunSession(await openProject({ cwd: opts.cwd, cfg, onWarning: rep.warn }), opts, rep, runLock.groups);
    s.p.lockFile.coalesce(LOCK_WRITE_INTERVAL_MS);
    let result: ReproResult;
    try {
      result = await runSelected(s, selectForRun(s, targets));
    } catch (e) {
      try {
        s.p.lockFile.flush();
      } catch {
        // the run's own error says more
      }
      throw e;
    } finally {
      await s.runCache.close();
    }
    s.p.lockFile.flush();
    return result;
  } finally {
    await runLock.release();
  }
}

/**
 * `repro --pull`: place the recorded outputs of the selection (and its upstream) that are missing
 * here, from the remote, so that up-to-date stages and the deps stale ones read are there. What the
 * remote lacks is a warning: the stage that makes it runs (or is restored from the run cache).
 */
async function pullFirst(opts: ReproOptions, rep: Reporter): Promise<void> {
  const { pull } = await import('./pull.js');
  const r = await pull({ cwd: opts.cwd, targets: opts.targets, jobs: opts.jobs, onWarning: rep.warn });
  for (const f of r.failed) rep.warn?.(oneLine(`pull: ${f.path}: ${f.reason}`));
}
