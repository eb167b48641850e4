import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, dvcl, json } from './helpers/cli.js';
import { gitRepo, type GitRepo } from './helpers/git-repo.js';

let repos: GitRepo[] = [];
afterEach(() => { for (const r of repos) r.cleanup(); repos = []; });
async function repo(files: Record<string, string> = {}): Promise<GitRepo> {
  const r = await gitRepo(files);
  repos.push(r);
  return r;
}

const SET_UP = ['.pipelinerc', '.gitignore', '.gitattributes', '.git/config'];
const snapshot = (dir: string): Record<string, string> =>
  Object.fromEntries(SET_UP.map((f) => [f, fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), 'latin1') : '<missing>']));

describe('dvcl init in a git repository', () => {
  it('sets up the project: a commented .pipelinerc, .gitignore, .gitattributes, the merge driver', async () => {
    const r = await repo({ 'README.md': '# data\n' });
    const out = dvcl(r.dir, ['init']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('created .pipelinerc');
    expect(out.stderr).toBe('');

    const rc = r.read('.pipelinerc');
    // First, so that editors with the YAML language server validate and complete the file.
    expect(rc.split('\n')[0]).toBe('# yaml-language-server: $schema=https://unpkg.com/dvcl/schema/pipelinerc.schema.json');
    expect(rc).toMatch(/^version: 1$/m);
    expect(rc.split('\n').filter((l) => l.trimStart().startsWith('#')).length).toBeGreaterThan(5);
    expect(r.read('.gitignore').split('\n')).toContain('.dvcl/');
    const attrs = r.read('.gitattributes').split('\n');
    expect(attrs).toContain('pipeline.lock merge=dvcl');
    expect(attrs).toContain('.manifest.json merge=dvcl');

    const driver = r.git('config', '--local', 'merge.dvcl.driver');
    // This node and this dvcl, with fallbacks for when node moves (issue 12.19; see team.e2e).
    expect(driver).toContain(`n=${process.execPath} b=${fs.realpathSync(BIN)}; `);
    expect(driver).toContain('exec "$n" "$b" merge-driver %O %A %B %P');
    expect(r.git('config', '--local', 'merge.dvcl.name')).not.toBe('');
    // git sees the attribute, so it will call the driver for those files.
    expect(r.git('check-attr', 'merge', 'pipeline.lock', '.manifest.json', 'sub/pipeline.lock'))
      .toBe('pipeline.lock: merge: dvcl\n.manifest.json: merge: dvcl\nsub/pipeline.lock: merge: dvcl');

    // The starter file loads: status and dag succeed on it.
    const status = dvcl(r.dir, ['status']);
    expect(status.code, status.stderr).toBe(0);
    expect(json(dvcl(r.dir, ['dag', '--json']))).toEqual({ nodes: [], edges: [] });
  });

  it('the commented example stages are valid once uncommented', async () => {
    const r = await repo({ 'params.yaml': 'prepare:\n  split: 0.2\n' });
    expect(dvcl(r.dir, ['init']).code).toBe(0);
    fs.writeFileSync(path.join(r.dir, '.pipelinerc'), r.read('.pipelinerc').replace(/^ {2}# /gm, '  '));
    const out = dvcl(r.dir, ['dag', '--json']);
    expect(out.code, out.stderr).toBe(0);
    expect(json(out).nodes.map((n: { name: string }) => n.name)).toEqual(['prepare', 'parse']);
  });

  it('a second init changes nothing', async () => {
    const r = await repo();
    expect(dvcl(r.dir, ['init']).code).toBe(0);
    const before = snapshot(r.dir);
    const again = dvcl(r.dir, ['init']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe('dvcl is already set up here: nothing changed\n');
    expect(snapshot(r.dir)).toEqual(before);
    expect(json(dvcl(r.dir, ['init', '--json'])).changes).toEqual([]);
    expect(snapshot(r.dir)).toEqual(before);
  });

  it('never overwrites an existing .pipelinerc, and keeps .gitignore and .gitattributes content', async () => {
    const rc = 'version: 1\nstages:\n  mine:\n    cmd: echo mine\n';
    const r = await repo({ '.pipelinerc': rc, '.gitignore': 'node_modules/\n*.log', '.gitattributes': '*.png binary\n' });
    const out = dvcl(r.dir, ['init']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).not.toContain('created .pipelinerc');
    expect(r.read('.pipelinerc')).toBe(rc);
    expect(r.read('.gitignore')).toBe('node_modules/\n*.log\n.dvcl/\n.pipelinerc.local\n.manifest.json.bak\n.manifest.json.corrupt-*\n');
    expect(r.read('.gitattributes')).toBe('*.png binary\npipeline.lock merge=dvcl\n.manifest.json merge=dvcl\n');
  });

  it('takes an existing .dvcl ignore line as present', async () => {
    const r = await repo({ '.gitignore': '/.dvcl\n' });
    expect(dvcl(r.dir, ['init']).code).toBe(0);
    expect(r.read('.gitignore')).toBe('/.dvcl\n.pipelinerc.local\n.manifest.json.bak\n.manifest.json.corrupt-*\n');
  });
});

describe('dvcl init outside git', () => {
  it('works, with a warning that the merge driver is not registered', () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-nogit-')));
    try {
      const out = dvcl(dir, ['init']);
      expect(out.code, out.stderr).toBe(0);
      expect(out.stderr).toMatch(/^warning: not a git repository/m);
      expect(out.stderr).not.toContain('    at ');
      expect(fs.existsSync(path.join(dir, '.pipelinerc'))).toBe(true);
      expect(fs.readFileSync(path.join(dir, '.gitignore'), 'utf8')).toBe('.dvcl/\n.pipelinerc.local\n.manifest.json.bak\n.manifest.json.corrupt-*\n');
      expect(fs.existsSync(path.join(dir, '.git'))).toBe(false);
      expect(dvcl(dir, ['status']).code).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
