import fs from 'node:fs';
import path from 'node:path';
import { findRoot } from '../config/load.js';
import { DvclError } from '../errors.js';
import { catFiles, gitOk, resolveCommit } from '../git/git.js';
import { diffLedgers, type Ledger, type LedgerDiff } from '../ledger/diff.js';
import { LOCK_FILE, parseLock } from '../ledger/lock.js';
import { MANIFEST_FILE } from '../ledger/manifest.js';
import { loadWithRecovery } from '../ledger/manifest-file.js';
import { parseManifest } from '../ledger/manifest-format.js';
import { diffParams, type ParamDiff } from '../ledger/params-diff.js';

/** `rev` as the user named it (`workspace` for the files on disk); `recorded` false where there is no pipeline.lock. */
export interface DiffSide { rev: string; commit: string | null; recorded: boolean }

export interface DiffResult extends LedgerDiff { a: DiffSide; b: DiffSide }
export interface ParamsDiffResult { a: DiffSide; b: DiffSide; params: ParamDiff[] }

export interface DiffOptions {
  cwd: string;
  /** default HEAD */
  a?: string;
  /** default: the working tree */
  b?: string;
  onWarning?: (msg: string) => void;
}

export const WORKSPACE = 'workspace';

/** Stages added, removed and re-run between two revisions (or a revision and the working tree), with their items. */
export async function diff(opts: DiffOptions): Promise<DiffResult> {
  const [a, b] = await sides(opts, true);
  return { a: a.side, b: b.side, ...diffLedgers(a.ledger, b.ledger) };
}

/** The params recorded in pipeline.lock at two revisions; `all` keeps the unchanged ones. */
export async function paramsDiff(opts: DiffOptions & { all?: boolean }): Promise<ParamsDiffResult> {
  const [a, b] = await sides(opts, false);
  return { a: a.side, b: b.side, params: diffParams(a.ledger.lock, b.ledger.lock, { all: opts.all }) };
}

interface Read { side: DiffSide; ledger: Ledger }

async function sides(opts: DiffOptions, withManifest: boolean): Promise<[Read, Read]> {
  const root = findRoot(opts.cwd);
  let prefix: string;
  try {
    prefix = (await gitOk(['rev-parse', '--show-prefix'], { cwd: root })).trim();
  } catch {
    throw new DvclError('config', `comparing revisions reads ${LOCK_FILE} from git, and ${root} is not in a git repository`);
  }
  const at = (rev: string) => atRevision(root, prefix, rev, withManifest, opts.a === undefined && rev === 'HEAD');
  return Promise.all([at(opts.a ?? 'HEAD'), opts.b === undefined ? inWorkTree(root, withManifest, opts.onWarning) : at(opts.b)]);
}

async function atRevision(root: string, prefix: string, rev: string, withManifest: boolean, implicitHead: boolean): Promise<Read> {
  const commit = await resolveCommit(root, rev);
  if (commit === null) {
    // A repository with no commit yet: HEAD, unnamed, is an empty side rather than a typo.
    if (implicitHead && (await resolveCommit(root, 'HEAD')) === null) return { side: { rev, commit: null, recorded: false }, ledger: { lock: null, manifest: null } };
    throw new DvclError('config', `unknown revision: ${rev}`, { suggestions: ['name a commit, branch or tag that git knows (`git log --oneline` lists them)'] });
  }
  const lockSpec = `${commit}:${prefix}${LOCK_FILE}`;
  const manifestSpec = `${commit}:${prefix}${MANIFEST_FILE}`;
  const texts = await catFiles(root, withManifest ? [lockSpec, manifestSpec] : [lockSpec]);
  const lockText = texts.get(lockSpec);
  const manifestText = texts.get(manifestSpec);
  return {
    side: { rev, commit, recorded: lockText !== undefined },
    ledger: {
      lock: lockText === undefined ? null : parseLock(lockText, `${rev}:${LOCK_FILE}`),
      manifest: manifestText === undefined ? null : parseManifest(manifestText, `${rev}:${MANIFEST_FILE}`),
    },
  };
}

/** The files as the last run left them, committed or not; read only (a corrupt manifest is read from its backup). */
function inWorkTree(root: string, withManifest: boolean, warn: (m: string) => void = () => undefined): Read {
  let lockText: string | null;
  try {
    lockText = fs.readFileSync(path.join(root, LOCK_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new DvclError('io', `${LOCK_FILE}: cannot read: ${(e as Error).message}`);
    lockText = null;
  }
  const manifestPath = path.join(root, MANIFEST_FILE);
  const manifest = withManifest && fs.existsSync(manifestPath) ? loadWithRecovery(manifestPath, warn, true).data : null;
  return {
    side: { rev: WORKSPACE, commit: null, recorded: lockText !== null },
    ledger: { lock: lockText === null ? null : parseLock(lockText), manifest },
  };
}
