import { selectStages } from './dag.js';
import { checkTargets, openProject } from './project.js';
import { computeStatus, type StatusReport } from './status.js';

/** `dvcl status`: read-only; never takes the run lock, never writes the manifest. */
export async function status(opts: { cwd: string; targets?: string[]; onWarning?: (m: string) => void }): Promise<StatusReport> {
  const p = await openProject({ cwd: opts.cwd, readOnly: true, onWarning: opts.onWarning });
  checkTargets(p.cfg, opts.targets ?? []);
  const selected = selectStages(p.cfg.dag, opts.targets ?? []);
  const report = computeStatus({ cfg: p.cfg, lock: p.lock, manifest: p.manifest, hasher: p.hasher, maxAttempts: p.cfg.settings.max_attempts }, selected);
  p.hasher.save(); // the stat cache is ours (.dvcl/), not the user's: saving it keeps the next status fast
  return report;
}
