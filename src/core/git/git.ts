// git/: the one module that starts git (every git process dvcl runs goes through runGit() below), and the hook.
import { spawn } from 'node:child_process';
import { DvclError } from '../errors.js';

export interface GitInfo {
  commit: string | null;
  branch: string | null;
  /** Tracked files modified or staged; untracked ones would mean walking every ignored data folder. */
  dirty: boolean | null;
  user: string | null;
}

const NO_GIT: GitInfo = { commit: null, branch: null, dirty: null, user: null };

export interface GitRun { code: number | null; stdout: Buffer; stderr: string }

export function runGit(args: string[], opts: { cwd: string; input?: string }): Promise<GitRun> {
  return new Promise((resolve) => {
    const child = spawn('git', args, { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => resolve({ code: null, stdout: Buffer.alloc(0), stderr: e.message }));
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8').trim() }));
    child.stdin.on('error', () => undefined).end(opts.input);
  });
}

export async function gitText(args: string[], opts: { cwd: string; input?: string }): Promise<string> {
  return (await runGit(args, opts)).stdout.toString('utf8');
}

export async function gitOk(args: string[], opts: { cwd: string; input?: string }): Promise<string> {
  const r = await runGit(args, opts);
  if (r.code !== 0) throw new GitFailed(args, r);
  return r.stdout.toString('utf8');
}

export class GitFailed extends Error {
  constructor(readonly args: string[], readonly result: GitRun) {
    super(result.stderr || `git ${args[0]} exited with ${result.code ?? 'no status (git did not start)'}`);
  }
}

export async function gitInfo(cwd: string): Promise<GitInfo> {
  const [head, user] = await Promise.all([headState(cwd), configUser(cwd)]);
  return head ? { ...head, user } : NO_GIT;
}

export async function isGitRepo(cwd: string): Promise<boolean> {
  return (await gitTopLevel(cwd)) !== null;
}

export async function gitTopLevel(cwd: string): Promise<string | null> {
  const r = await runGit(['rev-parse', '--show-toplevel'], { cwd });
  return r.code === 0 ? r.stdout.toString('utf8').trim() || null : null;
}

export async function setLocalConfig(cwd: string, key: string, value: string): Promise<void> {
  const r = await runGit(['config', '--local', key, value], { cwd });
  if (r.code !== 0) throw new DvclError('io', `cannot set git config ${key}: ${r.stderr || `${cwd} is not a git repository`}`);
}

export async function getLocalConfig(cwd: string, key: string): Promise<string | null> {
  const r = await runGit(['config', '--local', '--get', key], { cwd });
  return r.code === 0 ? r.stdout.toString('utf8').replace(/\n$/, '') : null;
}

async function headState(cwd: string): Promise<Omit<GitInfo, 'user'> | null> {
  // One process answers all three (porcelain v2 headers carry commit and branch). --no-optional-locks
  // keeps status from taking index.lock, so a git command the user runs meanwhile never fails.
  const r = await runGit(['--no-optional-locks', 'status', '--porcelain=v2', '--branch', '--untracked-files=no'], { cwd });
  if (r.code !== 0) return null;
  let commit: string | null = null;
  let branch: string | null = null;
  let dirty = false;
  for (const line of r.stdout.toString('utf8').split('\n')) {
    if (line.startsWith('# branch.oid ')) commit = orNull(line.slice(13), '(initial)');
    else if (line.startsWith('# branch.head ')) branch = orNull(line.slice(14), '(detached)');
    else if (line && !line.startsWith('#')) dirty = true;
  }
  return { commit, branch, dirty };
}

async function configUser(cwd: string): Promise<string | null> {
  // -z gives "key\nvalue\0"; git lists scopes from system to local, so the last value wins.
  const r = await runGit(['config', '-z', '--get-regexp', '^user\\.(name|email)$'], { cwd });
  if (r.code !== 0) return null;
  const values = new Map<string, string>();
  for (const entry of r.stdout.toString('utf8').split('\0')) {
    const nl = entry.indexOf('\n');
    if (nl > 0) values.set(entry.slice(0, nl), entry.slice(nl + 1).trim());
  }
  const name = values.get('user.name');
  const email = values.get('user.email');
  if (name && email) return `${name} <${email}>`;
  return name || (email ? `<${email}>` : null);
}

function orNull(value: string, sentinel: string): string | null {
  return value === sentinel ? null : value;
}

/** Blobs by `<rev>:<path>` spec, read by one `git cat-file --batch`; a spec git does not find is absent from the map. */
export async function catFiles(cwd: string, specs: string[]): Promise<Map<string, string>> {
  const texts = new Map<string, string>();
  if (specs.length === 0) return texts;
  const { code, stdout: buf } = await runGit(['cat-file', '--batch'], { cwd, input: specs.join('\n') + '\n' });
  if (code !== 0) throw new DvclError('io', `git cat-file failed (exit ${code})`);
  let pos = 0;
  for (const spec of specs) {
    const eol = buf.indexOf(10, pos);
    const header = buf.toString('utf8', pos, eol);
    pos = eol + 1;
    const m = /^[0-9a-f]+ (\w+) (\d+)$/.exec(header);
    if (!m) continue; // `<spec> missing`: no such file in that commit (or a shallow clone's cut)
    const size = Number(m[2]);
    if (m[1] === 'blob') texts.set(spec, buf.toString('utf8', pos, pos + size));
    pos += size + 1;
  }
  return texts;
}

/** The commit a revision names (branch, tag, `HEAD~2`, a hash), or null when git knows no such commit. */
export async function resolveCommit(cwd: string, rev: string): Promise<string | null> {
  if (rev.startsWith('-')) return null; // never an option to rev-parse
  const r = await runGit(['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`], { cwd });
  return r.code === 0 ? r.stdout.toString('utf8').trim() || null : null;
}
