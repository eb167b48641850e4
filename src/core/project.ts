import fs from 'node:fs';
import path from 'node:path';
import { removeStaleTemporaries } from './atomic-write.js';
import { loadConfig, type PipelineConfig } from './config.js';
import { DvclError, oneLine } from './errors.js';
import { Hasher } from './hash.js';
import { LOCK_FILE, readLock, type LockData } from './lock.js';
import { Manifest } from './manifest.js';
import { noteGroupsIn, stopLeftoverGroups, stopNotingGroups } from './orphans.js';
import { acquireRunLock, type RunLock } from './runlock.js';
import { closest } from './template.js';

export const STATE_DIR = '.dvcl';

/** Everything a command reads about a project: config, lock, manifest, and a hasher. */
export interface Project {
  cfg: PipelineConfig;
  lock: LockData;
  manifest: Manifest;
  hasher: Hasher;
  stateDir: string;
}

/**
 * Take the run lock for a command that writes pipeline.lock and .manifest.json, then clear what a
 * writer that was killed left behind: temporary files next to them (`pipeline.lock.tmp-<pid>-…`)
 * and commands still running (see orphans.ts). From then on the groups this run starts are noted,
 * until the lock is released.
 */
export async function lockForWriting(p: Project, command: string, onWarning?: (m: string) => void): Promise<RunLock> {
  const lock = await acquireRunLock({ stateDir: p.stateDir, command });
  const m = path.basename(p.manifest.path);
  removeStaleTemporaries(p.cfg.root, [LOCK_FILE, m, `${m}.bak`]);
  for (const s of await stopLeftoverGroups(p.stateDir)) {
    onWarning?.(`stopped ${s.groups} command${s.groups > 1 ? 's' : ''} still running from dvcl (pid ${s.pid}), which was killed before it finished`);
  }
  noteGroupsIn(p.stateDir);
  return {
    release: () => {
      stopNotingGroups();
      return lock.release();
    },
    releaseSync: () => {
      stopNotingGroups();
      lock.releaseSync();
    },
  };
}

export async function openProject(opts: { cwd: string; readOnly?: boolean; onWarning?: (m: string) => void }): Promise<Project> {
  const cfg = loadConfig({ cwd: opts.cwd });
  const stateDir = path.join(cfg.root, STATE_DIR);
  ensureStateDir(stateDir); // even read-only commands keep the stat cache there
  const lock = readLock(cfg.root);
  if (Object.keys(lock.stages).length === 0 && fs.statSync(path.join(cfg.root, LOCK_FILE), { throwIfNoEntry: false })?.size === 0) {
    // dvcl never writes an empty lock: a merge or a tool emptied it, and every stage now looks new.
    (opts.onWarning ?? ((m: string) => process.stderr.write(`warning: ${oneLine(m)}\n`)))(
      `${LOCK_FILE} is empty: every stage counts as never run (\`git checkout -- ${LOCK_FILE}\` restores the committed one)`,
    );
  }
  const manifest = Manifest.load({ root: cfg.root, journalDir: stateDir, readOnly: opts.readOnly, onWarning: opts.onWarning });
  const hasher = await Hasher.open({ root: cfg.root, algorithm: cfg.settings.hash, stateDir });
  return { cfg, lock, manifest, hasher, stateDir };
}

/** `.dvcl/` ignores itself, so a project where `dvcl init` never ran still shows a clean `git status`. */
export function ensureStateDir(stateDir: string): void {
  const marker = path.join(stateDir, '.gitignore');
  if (fs.existsSync(marker)) return;
  fs.mkdirSync(stateDir, { recursive: true });
  fs.writeFileSync(marker, '# local dvcl state: never committed\n*\n');
}

/** Unknown stage names are a usage error (exit 2), with the closest name as a hint. */
export function checkTargets(cfg: PipelineConfig, targets: string[]): void {
  const names = cfg.stages.map((s) => s.name);
  for (const t of targets) {
    if (names.includes(t)) continue;
    const near = closest(t, names);
    throw new DvclError('unknown_stage', `unknown stage "${t}"`, {
      suggestions: [near ? `did you mean "${near}"?` : names.length ? `stages: ${names.join(', ')}` : '.pipelinerc declares no stages'],
    });
  }
}
