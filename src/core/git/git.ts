import type { SimpleGit, SimpleGitOptions } from 'simple-git';
import { DvclError } from '../errors.js';

/** Where the work tree stood when something ran (SPEC §8). All fields are null outside git. */
export interface GitInfo {
  /** full sha of HEAD; null outside git and in a repository with no commits yet */
  commit: string | null;
  /** current branch; null when HEAD is detached or outside git */
  branch: string | null;
  /**
   * true when tracked files are modified or staged. Untracked files are ignored: listing them
   * means walking every ignored data directory, which is slow in exactly the repositories dvcl is
   * for. Null outside git.
   */
  dirty: boolean | null;
  /** "Name <email>" from git config (local, else global); null when neither is set */
  user: string | null;
}

const NO_GIT: GitInfo = { commit: null, branch: null, dirty: null, user: null };

/**
 * Read HEAD, branch, dirtiness and user for `cwd` with two concurrent git processes.
 * Never throws: outside a repository, or when git is missing or fails, the fields are null.
 */
export async function gitInfo(cwd: string): Promise<GitInfo> {
  const git = await client(cwd);
  if (!git) return NO_GIT;
  const [head, user] = await Promise.all([headState(git), configUser(git)]);
  return { ...head, user };
}

/** Whether `cwd` is inside a git work tree. */
export async function isGitRepo(cwd: string): Promise<boolean> {
  return (await gitTopLevel(cwd)) !== null;
}

/** Root of the work tree containing `cwd`, or null outside one (or inside `.git`). */
export async function gitTopLevel(cwd: string): Promise<string | null> {
  const git = await client(cwd);
  if (!git) return null;
  try {
    return (await git.revparse(['--show-toplevel'])) || null;
  } catch {
    return null;
  }
}

/** Set a key in the repository's own config (`dvcl init` registers the merge driver this way). */
export async function setLocalConfig(cwd: string, key: string, value: string): Promise<void> {
  // simple-git refuses to write merge.*.driver (a command git will run) unless told to; the keys
  // and values here come from dvcl itself, not from untrusted input.
  const git = await client(cwd, { allowUnsafeMergeDriver: true });
  try {
    if (!git) throw new Error(`${cwd} does not exist`);
    await git.addConfig(key, value, false, 'local');
  } catch (err) {
    throw new DvclError('io', `cannot set git config ${key}: ${message(err)}`);
  }
}

/** A key from the repository's own config; null when unset or outside git. */
export async function getLocalConfig(cwd: string, key: string): Promise<string | null> {
  const git = await client(cwd);
  if (!git) return null;
  try {
    return (await git.getConfig(key, 'local')).value;
  } catch {
    return null;
  }
}

async function client(cwd: string, unsafe: SimpleGitOptions['unsafe'] = {}): Promise<SimpleGit | null> {
  // simple-git takes 25-65 ms to load: imported here, so only commands that ask git pay for it.
  const { simpleGit } = await import('simple-git');
  try {
    return simpleGit({ baseDir: cwd, unsafe });
  } catch {
    return null; // simple-git throws at once when baseDir does not exist
  }
}

async function headState(git: SimpleGit): Promise<Omit<GitInfo, 'user'>> {
  try {
    // One process answers all three: the porcelain v2 headers carry commit and branch, and every
    // other line is a change. --no-optional-locks keeps status from taking index.lock to refresh
    // the index, so a git command the user runs meanwhile never fails because of us.
    const out = await git.raw([
      '--no-optional-locks', 'status', '--porcelain=v2', '--branch', '--untracked-files=no',
    ]);
    let commit: string | null = null;
    let branch: string | null = null;
    let dirty = false;
    for (const line of out.split('\n')) {
      if (line.startsWith('# branch.oid ')) commit = orNull(line.slice(13), '(initial)');
      else if (line.startsWith('# branch.head ')) branch = orNull(line.slice(14), '(detached)');
      else if (line && !line.startsWith('#')) dirty = true;
    }
    return { commit, branch, dirty };
  } catch {
    return { commit: null, branch: null, dirty: null };
  }
}

async function configUser(git: SimpleGit): Promise<string | null> {
  try {
    // One process for both keys; -z gives "key\nvalue\0" entries, and git lists scopes from
    // system to local, so the last value of a key is the effective one.
    const out = await git.raw(['config', '-z', '--get-regexp', '^user\\.(name|email)$']);
    const values = new Map<string, string>();
    for (const entry of out.split('\0')) {
      const nl = entry.indexOf('\n');
      if (nl > 0) values.set(entry.slice(0, nl), entry.slice(nl + 1).trim());
    }
    const name = values.get('user.name');
    const email = values.get('user.email');
    if (name && email) return `${name} <${email}>`;
    return name || (email ? `<${email}>` : null);
  } catch {
    return null;
  }
}

function orNull(value: string, sentinel: string): string | null {
  return value === sentinel ? null : value;
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).trim();
}
