// services/: what the commands call, one module per command. This module: opening a project, the run lock.
import fs from 'node:fs';
import path from 'node:path';
import { removeStaleTemporaries } from '../util/atomic-write.js';
import { loadConfig } from '../config/load.js';
import type { PipelineConfig } from '../pipeline.js';
import { DvclError, oneLine } from '../errors.js';
import { Hasher } from '../hashing/hash.js';
import { algorithmOf, type HashAlgorithm } from '../hashing/algorithms.js';
import { removeLeftoverShellFiles } from '../run/item-shell.js';
import { LOCK_FILE, type LockData } from '../ledger/lock.js';
import { LockFile } from '../ledger/lock-file.js';
import { Manifest, MANIFEST_FILE, type ManifestData } from '../ledger/manifest.js';
import { GroupNotes, stopLeftoverGroups } from '../run/leftover-groups.js';
import { ProcessGroups } from '../run/process-groups.js';
import { acquireRunLock, type RunLock } from '../run/runlock.js';
import type { Project } from '../project.js';

export const STATE_DIR = '.dvcl';

export interface WritingLock extends RunLock { groups: ProcessGroups }

/** Then clears what a killed writer left. Before {@link openProject}: only the lock holder may recover a crashed run's journal (issue 11). */
export async function lockForWriting(cfg: PipelineConfig, command: string, onWarning?: (m: string) => void): Promise<WritingLock> {
  const stateDir = stateDirOf(cfg);
  const lock = await acquireRunLock({ stateDir, command });
  removeStaleTemporaries(cfg.root, [LOCK_FILE, MANIFEST_FILE, `${MANIFEST_FILE}.bak`]);
  for (const s of await stopLeftoverGroups(stateDir)) {
    onWarning?.(`stopped ${s.groups} command${s.groups > 1 ? 's' : ''} still running from dvcl (pid ${s.pid}), which was killed before it finished`);
  }
  removeLeftoverShellFiles(path.join(stateDir, 'tmp'));
  const notes = new GroupNotes(stateDir);
  return {
    groups: new ProcessGroups(notes),
    release: () => {
      notes.close();
      return lock.release();
    },
    releaseSync: () => {
      notes.close();
      lock.releaseSync();
    },
  };
}

export function loadProjectConfig(cwd: string): PipelineConfig {
  const cfg = loadConfig({ cwd });
  ensureStateDir(stateDirOf(cfg));
  return cfg;
}

export function stateDirOf(cfg: PipelineConfig): string {
  return path.join(cfg.root, STATE_DIR);
}

/** Unless `readOnly` the caller holds the run lock: else a run that lost the race would delete the winner's journal. */
export async function openProject(opts: { cwd: string; cfg?: PipelineConfig; readOnly?: boolean; onWarning?: (m: string) => void }): Promise<Project> {
  const cfg = opts.cfg ?? loadProjectConfig(opts.cwd);
  const stateDir = stateDirOf(cfg);
  const lockFile = LockFile.read(cfg.root);
  const lock = lockFile.data;
  if (Object.keys(lock.stages).length === 0 && fs.statSync(path.join(cfg.root, LOCK_FILE), { throwIfNoEntry: false })?.size === 0) {
    // dvcl never writes an empty lock: a merge or a tool emptied it, and every stage now looks new.
    (opts.onWarning ?? ((m: string) => process.stderr.write(`warning: ${oneLine(m)}\n`)))(
      `${LOCK_FILE} is empty: every stage counts as never run (\`git checkout -- ${LOCK_FILE}\` restores the committed one)`,
    );
  }
  const manifest = Manifest.load({ root: cfg.root, journalDir: stateDir, readOnly: opts.readOnly, onWarning: opts.onWarning });
  const algorithm = cfg.settings.hash;
  const hasher = await Hasher.open({ root: cfg.root, algorithm, stateDir, also: recordedAlgorithms(algorithm, lock, manifest.data) });
  return { cfg, lock, lockFile, manifest, hasher, stateDir };
}

/** Algorithms recorded other than `configured`: each checks its own hashes, so switching `settings.hash` stales nothing. */
function recordedAlgorithms(configured: HashAlgorithm, lock: LockData, manifest: ManifestData): Set<HashAlgorithm> {
  const found = new Set<HashAlgorithm>();
  const prefix = `${configured}:`;
  const note = (hash: string | undefined): void => {
    if (hash === undefined || hash.startsWith(prefix)) return; // the common case, 100,000s of items
    const algo = algorithmOf(hash);
    if (algo) found.add(algo);
  };
  for (const e of Object.values(lock.stages)) {
    for (const p of e.deps) note(p.hash);
    for (const p of e.outs) note(p.hash);
    note(e.items?.hash);
  }
  // An item's hashes share one algorithm, which its input hash names (one that does not is checked
  // with the configured algorithm, so it counts as changed: safe).
  for (const s of Object.values(manifest.stages)) for (const rec of Object.values(s.items ?? {})) note(rec.hash);
  return found;
}

/** `.dvcl/` ignores itself, so a project where `dvcl init` never ran still shows a clean `git status`. */
export function ensureStateDir(stateDir: string): void {
  const marker = path.join(stateDir, '.gitignore');
  if (fs.existsSync(marker)) return;
  const st = fs.statSync(stateDir, { throwIfNoEntry: false });
  if (st && !st.isDirectory()) {
    throw new DvclError('config', `${path.basename(stateDir)} is a file: dvcl keeps its local state in the folder ${path.basename(stateDir)}/`, {
      suggestions: [`move ${path.basename(stateDir)} away (dvcl re-creates the folder; nothing in it is shared)`],
    });
  }
  fs.mkdirSync(stateDir, { recursive: true });
  fs.writeFileSync(marker, '# local dvcl state: never committed\n*\n');
}

export { checkTargets } from '../graph/targets.js';
