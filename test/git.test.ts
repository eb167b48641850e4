import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getLocalConfig, gitInfo, gitTopLevel, isGitRepo, setLocalConfig } from '../src/core/git/git.js';
import { DvclError } from '../src/core/errors.js';
import { gitRepo, type GitRepo } from './helpers/git-repo.js';

const cleanups: Array<() => void> = [];
afterEach(() => { while (cleanups.length) cleanups.pop()!(); });

async function repo(files: Record<string, string>, opts?: { commit?: boolean }): Promise<GitRepo> {
  const r = await gitRepo(files, opts);
  cleanups.push(r.cleanup);
  return r;
}

function plainDir(): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-nogit-')));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('gitInfo', () => {
  it('reports HEAD, branch and user of a clean repo', async () => {
    const r = await repo({ 'data/a.txt': 'a\n' });
    expect(await gitInfo(r.dir)).toEqual({
      commit: r.git('rev-parse', 'HEAD'), branch: 'main', dirty: false, user: 'Test User <test@example.org>',
    });
  });

  it('is dirty when a tracked file is modified or staged, not for untracked files', async () => {
    const r = await repo({ 'a.txt': 'a\n' });
    r.write('new.txt', 'untracked\n');
    expect((await gitInfo(r.dir)).dirty).toBe(false);
    r.write('a.txt', 'changed\n');
    expect((await gitInfo(r.dir)).dirty).toBe(true);
    r.git('add', 'a.txt');
    expect((await gitInfo(r.dir)).dirty).toBe(true);
    r.git('commit', '-q', '-m', 'change');
    r.git('add', 'new.txt');
    expect((await gitInfo(r.dir)).dirty).toBe(true);
  });

  it('works from a subdirectory', async () => {
    const r = await repo({ 'src/x.txt': 'x\n' });
    expect((await gitInfo(path.join(r.dir, 'src'))).branch).toBe('main');
  });

  it('has a null branch on a detached HEAD', async () => {
    const r = await repo({ 'a.txt': 'a\n' });
    const sha = r.git('rev-parse', 'HEAD');
    r.git('checkout', '-q', '--detach');
    expect(await gitInfo(r.dir)).toMatchObject({ commit: sha, branch: null, dirty: false });
  });

  it('has a null commit in a repo with no commits', async () => {
    const r = await repo({ 'a.txt': 'a\n' }, { commit: false });
    expect(await gitInfo(r.dir)).toMatchObject({ commit: null, branch: 'main', dirty: false });
    r.git('add', 'a.txt');
    expect(await gitInfo(r.dir)).toMatchObject({ commit: null, dirty: true });
  });

  it('is all null outside a repository, for a missing directory, and without git', async () => {
    expect(await gitInfo(plainDir())).toMatchObject({ commit: null, branch: null, dirty: null });
    expect(await gitInfo(path.join(plainDir(), 'missing'))).toEqual(
      { commit: null, branch: null, dirty: null, user: null });
    const r = await repo({});
    const savedPath = process.env.PATH;
    process.env.PATH = plainDir();
    try {
      expect(await gitInfo(r.dir)).toEqual({ commit: null, branch: null, dirty: null, user: null });
    } finally {
      process.env.PATH = savedPath;
    }
  });
});

describe('repository queries', () => {
  it('finds the top level from a subdirectory, and nothing outside git', async () => {
    const r = await repo({ 'deep/er/f.txt': 'f\n' });
    expect(await gitTopLevel(path.join(r.dir, 'deep/er'))).toBe(r.dir);
    expect(await isGitRepo(r.dir)).toBe(true);
    const outside = plainDir();
    expect(await gitTopLevel(outside)).toBeNull();
    expect(await isGitRepo(outside)).toBe(false);
    expect(await isGitRepo(path.join(r.dir, '.git'))).toBe(false);
  });

  it('sets and reads local config keys', async () => {
    const r = await repo({});
    expect(await getLocalConfig(r.dir, 'merge.dvcl.driver')).toBeNull();
    await setLocalConfig(r.dir, 'merge.dvcl.driver', 'dvcl merge-driver %O %A %B %P');
    await setLocalConfig(r.dir, 'merge.dvcl.name', 'dvcl lock merge');
    await setLocalConfig(r.dir, 'merge.dvcl.name', 'dvcl lock and manifest merge');
    expect(await getLocalConfig(r.dir, 'merge.dvcl.driver')).toBe('dvcl merge-driver %O %A %B %P');
    expect(await getLocalConfig(r.dir, 'merge.dvcl.name')).toBe('dvcl lock and manifest merge');
    expect(r.git('config', '--local', '--get-all', 'merge.dvcl.name')).toBe('dvcl lock and manifest merge');
  });

  it('fails to set config outside git with a DvclError, and reads null', async () => {
    const dir = plainDir();
    await expect(setLocalConfig(dir, 'merge.dvcl.driver', 'x')).rejects.toBeInstanceOf(DvclError);
    expect(await getLocalConfig(dir, 'merge.dvcl.driver')).toBeNull();
  });
});
