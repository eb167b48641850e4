import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dvcl, json, type CliResult } from './cli.js';
import { gitRepo, type GitRepo } from './git-repo.js';

/** A git repository holding a dvcl project, with shortcuts for what end-to-end tests check. */
export interface PipelineRepo extends GitRepo {
  /** run the built CLI in the repo */
  run(...args: string[]): CliResult;
  /** `status --json`, parsed */
  status(...targets: string[]): StatusJson;
  /** the stage names each stage appended to `runs.log`, in order; then the log is emptied */
  takeRuns(): string[];
  /** pipeline.lock's bytes, or null when there is none */
  lock(): string | null;
  manifest(): string | null;
  /** `.dvcl/` ignored as `dvcl init` does, everything else committed */
  commitAll(message?: string): void;
}

export interface ReasonJson { code: string; [k: string]: unknown }
export interface StatusJson { up_to_date: boolean; stages: { name: string; state: string; reasons: ReasonJson[] }[] }
export interface ReproJson { ok: boolean; stages: { name: string; result: string; reasons: ReasonJson[]; duration_ms: number; error?: string }[] }

const repos: GitRepo[] = [];

/**
 * A committed project: `.pipelinerc` from `rc`, `.dvcl/` in `.gitignore`, plus `files`.
 * Stages in these tests append their name to `runs.log` (never a dep or out), so a test can
 * tell exactly what ran.
 */
export async function pipelineRepo(rc: string, files: Record<string, string> = {}): Promise<PipelineRepo> {
  const repo = await gitRepo({ '.pipelinerc': rc, '.gitignore': '.dvcl/\nruns.log\n', ...files });
  repos.push(repo);
  return withShortcuts(repo);
}

export function withShortcuts(repo: GitRepo): PipelineRepo {
  const readOrNull = (rel: string) => (repo.exists(rel) ? fs.readFileSync(path.join(repo.dir, rel), 'utf8') : null);
  return {
    ...repo,
    run: (...args) => dvcl(repo.dir, args),
    status(...targets) {
      const r = dvcl(repo.dir, ['status', '--json', ...targets]);
      if (r.code !== 0) throw new Error(`status exited ${r.code}: ${r.stderr}`);
      return json<StatusJson>(r);
    },
    takeRuns() {
      const text = readOrNull('runs.log') ?? '';
      fs.rmSync(path.join(repo.dir, 'runs.log'), { force: true });
      return text.split('\n').filter(Boolean);
    },
    lock: () => readOrNull('pipeline.lock'),
    manifest: () => readOrNull('.manifest.json'),
    commitAll(message = 'run') {
      repo.git('add', '-A');
      repo.git('commit', '-q', '--allow-empty', '-m', message);
    },
  };
}

/** afterEach: remove every repo made since the last call. */
export function cleanupRepos(): void {
  while (repos.length) repos.pop()!.cleanup();
}

/** Track an extra directory (a clone) for cleanup. */
export function track(repo: GitRepo): void {
  repos.push(repo);
}

/** Stage names with a non-`skipped` result, for a compact assertion on `repro --json`. */
export function results(r: ReproJson): Record<string, string> {
  return Object.fromEntries(r.stages.map((s) => [s.name, s.result]));
}

/** `runs.log` is excluded from commits (see .gitignore) so a clone starts with no runs. */
export const A_B_C = `version: 1
stages:
  A:
    cmd: head -n 1 in.txt > a.txt && echo A >> runs.log
    deps: [in.txt]
    outs: [a.txt]
  B:
    cmd: cp a.txt b.txt && echo B >> runs.log
    deps: [a.txt]
    outs: [b.txt]
  C:
    cmd: cp b.txt c.txt && echo C >> runs.log
    deps: [b.txt]
    outs: [c.txt]
`;

/** A fresh folder (realpath'd), removed by cleanupRepos. */
export function tempDir(prefix: string): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  track({ dir, git: () => '', write: () => {}, read: () => '', exists: () => false, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) });
  return dir;
}

/** `git clone` of `from` (a repo or a bare one) into a fresh folder, removed by cleanupRepos; git failures fail the test. */
export function cloneOf(from: string, prefix = 'dvcl-clone-'): PipelineRepo {
  const dir = path.join(tempDir(prefix), 'w');
  const r = spawnSync('git', ['clone', '-q', from, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git clone ${from}: ${r.stderr}`);
  const git = (...args: string[]) => {
    const g = spawnSync('git', args, { cwd: dir, encoding: 'utf8' });
    if (g.status !== 0) throw new Error(`git ${args.join(' ')}: ${g.stderr}`);
    return g.stdout.trim();
  };
  return withShortcuts({
    dir, git, write: (rel, text) => { fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true }); fs.writeFileSync(path.join(dir, rel), text); },
    read: (rel) => fs.readFileSync(path.join(dir, rel), 'utf8'), exists: (rel) => fs.existsSync(path.join(dir, rel)), cleanup: () => {},
  });
}
