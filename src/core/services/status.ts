import { gitText } from '../git/git.js';
import { cloneWarnings } from './clone-health.js';
import { selectStages } from '../graph/dag.js';
import { checkTargets, openProject } from './project.js';
import { oneLine } from '../errors.js';
import { markRestorable, missingOnly } from './restorable.js';
import { computeStatus, stageWarnings } from '../status/status.js';
import { settled } from '../status/decide.js';
import { type Reason, type StatusReport } from '../status/reasons.js';

export interface StatusResult extends StatusReport {
  /** `--allow-missing`: these stages do not count as stale (`up_to_date` says so). */
  missing_only?: string[];
}

/** `dvcl status`: read-only; never takes the run lock, never writes the manifest. */
export async function status(opts: { cwd: string; targets?: string[]; glob?: boolean; allowMissing?: boolean; onWarning?: (m: string) => void }): Promise<StatusResult> {
  const p = await openProject({ cwd: opts.cwd, readOnly: true, onWarning: opts.onWarning });
  const health = cloneWarnings(p.cfg.root); // git runs while the stages are hashed
  const selected = selectStages(p.cfg.dag, checkTargets(p.cfg, opts.targets ?? [], { cwd: opts.cwd, glob: opts.glob }));
  const report = computeStatus({ cfg: p.cfg, lock: p.lock, manifest: p.manifest, hasher: p.hasher, maxAttempts: p.cfg.settings.max_attempts }, selected);
  const warn = opts.onWarning ?? ((m: string) => process.stderr.write(`warning: ${oneLine(m)}\n`));
  for (const st of report.stages) for (const w of stageWarnings(st)) warn(w);
  p.hasher.save(); // the stat cache is ours (.dvcl/), not the user's: saving it keeps the next status fast
  await markIgnoredOuts(p.cfg.root, report);
  markRestorable(p, report);
  for (const w of await health) warn(w);
  if (!opts.allowMissing) return report;
  const allowed = new Set(missingOnly(p, report));
  return { ...report, up_to_date: report.stages.every((s) => settled(s.state) || allowed.has(s.name)), missing_only: [...allowed] };
}

/** A missing out git ignores is not in a fresh clone: `ignored: true` tells a teammate why. */
async function markIgnoredOuts(root: string, report: StatusReport): Promise<void> {
  const missing = report.stages.flatMap((s) => s.reasons).filter((r): r is Extract<Reason, { code: 'out_missing' }> => r.code === 'out_missing');
  if (missing.length === 0) return;
  // exit 1: none is ignored; 128: not a git repository. Either way: what it printed, if anything.
  const out = await gitText(['check-ignore', '-z', '--stdin'], { cwd: root, input: missing.map((r) => r.path).join('\0') + '\0' });
  const ignored = new Set(out.split('\0').filter(Boolean));
  for (const r of missing) if (ignored.has(r.path)) r.ignored = true;
}
