import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A throwaway git repository in a temp dir, for tests that need real git and real files. */
export interface GitRepo {
  /** absolute, symlink-free path of the work tree (macOS /tmp is a symlink; git reports real paths) */
  dir: string;
  /** run git in the repo, synchronously; returns trimmed stdout and throws (with git's stderr) on failure */
  git(...args: string[]): string;
  /** write a file relative to the repo, creating folders */
  write(rel: string, content: string): void;
  read(rel: string): string;
  exists(rel: string): boolean;
  /** remove the whole temp dir; call it in afterEach */
  cleanup(): void;
}

/**
 * Create a repo on branch `main` with a fixed test identity, no commit signing and no
 * background gc, write `files` into it and make a first commit (empty if `files` is empty)
 * unless `opts.commit` is false.
 */
export async function gitRepo(
  files: Record<string, string> = {}, opts: { commit?: boolean } = {},
): Promise<GitRepo> {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-git-')));
  const git = (...args: string[]): string =>
    execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  const abs = (rel: string): string => path.join(dir, rel);
  const write = (rel: string, content: string): void => {
    fs.mkdirSync(path.dirname(abs(rel)), { recursive: true });
    fs.writeFileSync(abs(rel), content);
  };

  git('init', '-q', '-b', 'main');
  git('config', 'user.name', 'Test User');
  git('config', 'user.email', 'test@example.org');
  git('config', 'commit.gpgsign', 'false');
  git('config', 'gc.auto', '0');
  for (const [rel, content] of Object.entries(files)) write(rel, content);
  if (opts.commit !== false) {
    git('add', '-A');
    git('commit', '-q', '--allow-empty', '-m', 'initial');
  }

  return {
    dir,
    git,
    write,
    read: (rel) => fs.readFileSync(abs(rel), 'utf8'),
    exists: (rel) => fs.existsSync(abs(rel)),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
