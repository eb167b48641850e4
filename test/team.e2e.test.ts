import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { json, type CliResult } from './helpers/cli.js';
import { cleanupRepos, pipelineRepo, results, withShortcuts, type PipelineRepo, type ReproJson } from './helpers/pipeline.js';

// Teams through git (issue 5): the merge driver registered by `dvcl init`, clones, hooks.
// Real repositories, the built binary; git runs the driver itself during `git merge`.

const dirs: string[] = [];
afterEach(() => {
  cleanupRepos();
  while (dirs.length) fs.rmSync(dirs.pop()!, { recursive: true, force: true });
});

function tempDir(): string {
  const d = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-team-')));
  dirs.push(d);
  return d;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ok(r: CliResult): CliResult {
  expect(r.code, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
  return r;
}

/** git without throwing: a conflicted merge exits 1 and that is what some tests check. */
function gitTry(dir: string, ...args: string[]) {
  const r = spawnSync('git', args, { cwd: dir, encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

/** A project set up the way a team does it: `dvcl init`, then everything committed. */
async function teamRepo(rc: string, files: Record<string, string>): Promise<PipelineRepo> {
  const repo = await pipelineRepo(rc, files);
  ok(repo.run('init'));
  expect(repo.read('.gitattributes')).toMatch(/pipeline\.lock merge=dvcl/);
  return repo;
}

const PER_ITEM = `version: 1
stages:
  copy:
    foreach: in/*.txt
    out: out/\${stem}.txt
    cmd: cp \${item} \${out} && echo \${item} >> runs.log
`;

describe('merging branches that each ran the pipeline', () => {
  it('two branches process different new items of one per-item stage: no conflict, every item kept, nothing re-runs', async () => {
    const repo = await teamRepo(PER_ITEM, { 'in/a.txt': 'a\n' });
    ok(repo.run('repro'));
    repo.commitAll('a');
    repo.takeRuns();

    repo.git('checkout', '-q', '-b', 'feature');
    repo.write('in/b.txt', 'b\n');
    ok(repo.run('repro'));
    expect(repo.takeRuns()).toEqual(['in/b.txt']);
    repo.commitAll('b');

    repo.git('checkout', '-q', 'main');
    repo.write('in/c.txt', 'c\n');
    ok(repo.run('repro'));
    expect(repo.takeRuns()).toEqual(['in/c.txt']);
    repo.commitAll('c');

    const merge = gitTry(repo.dir, 'merge', '--no-edit', 'feature');
    expect(merge.code, merge.out).toBe(0);
    expect(merge.out).not.toMatch(/CONFLICT/);
    expect(merge.out).toMatch(/dvcl merge-driver: \.manifest\.json: stage copy changed on both branches/); // git ran our driver
    const manifest = JSON.parse(repo.manifest()!);
    expect(Object.keys(manifest.stages.copy.items)).toEqual(['in/a.txt', 'in/b.txt', 'in/c.txt']);
    expect(Object.values(manifest.stages.copy.items).every((i: any) => i.status === 'success')).toBe(true);
    expect(Object.keys(manifest.runs)).toHaveLength(3); // both branches' runs, and the first
    expect(parse(repo.lock()!).stages.copy.items.count).toBe(2); // one side's aggregate, until repro refreshes it

    const st = json(repo.run('status', '--json'));
    expect(st.stages[0].items).toMatchObject({ total: 3, success: 3, failed: 0, pending: 0 }); // every item's state is known
    const r = json<ReproJson>(ok(repo.run('repro', '--json')));
    expect(repo.takeRuns()).toEqual([]); // no item runs again
    expect(r.stages.map((s) => s.name)).toEqual(['copy']);
    expect(parse(repo.lock()!).stages.copy.items.count).toBe(3);
    expect(repo.run('status', '--check').code).toBe(0);
  });

  it('after node moves, the registered driver falls back to dvcl on PATH, then to a normal conflict (issue 12.19)', async () => {
    /** Two branches that each ran a different new item; merged with the driver as `dvcl init` left it, but node gone. */
    async function branches(): Promise<PipelineRepo> {
      const repo = await teamRepo(PER_ITEM, { 'in/a.txt': 'a\n' });
      ok(repo.run('repro'));
      repo.commitAll('a');
      repo.git('checkout', '-q', '-b', 'feature');
      repo.write('in/b.txt', 'b\n');
      ok(repo.run('repro'));
      repo.commitAll('b');
      repo.git('checkout', '-q', 'main');
      repo.write('in/c.txt', 'c\n');
      ok(repo.run('repro'));
      repo.commitAll('c');
      const driver = repo.git('config', 'merge.dvcl.driver');
      repo.git('config', 'merge.dvcl.driver', driver.replace(`n=${process.execPath} `, 'n=/nonexistent/node '));
      return repo;
    }
    const withDvcl = await branches();
    const bin = tempDir();
    fs.writeFileSync(path.join(bin, 'dvcl'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(path.resolve('bin/run.js'))} "$@"\n`, { mode: 0o755 });
    const merged = spawnSync('git', ['merge', '--no-edit', 'feature'], { cwd: withDvcl.dir, encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
    expect(merged.status, merged.stdout + merged.stderr).toBe(0);
    expect(Object.keys(JSON.parse(withDvcl.manifest()!).stages.copy.items)).toEqual(['in/a.txt', 'in/b.txt', 'in/c.txt']);
    // status says the registration is stale, with the fix.
    expect(withDvcl.run('status').stderr).toMatch(/merge driver registered in this clone points to \/nonexistent\/node, which no longer exists: run `dvcl init` again/);

    const without = await branches();
    const conflict = spawnSync('git', ['merge', '--no-edit', 'feature'], { cwd: without.dir, encoding: 'utf8', env: { ...process.env, PATH: '/usr/bin:/bin' } });
    expect(conflict.status).not.toBe(0);
    expect(conflict.stdout).toMatch(/CONFLICT \(content\)/);
    expect(conflict.stderr).toMatch(/dvcl merge driver: neither \/nonexistent\/node nor a dvcl on PATH/);
    expect(without.manifest()).toMatch(/^<<<<<<< ours$/m); // git's normal conflict, not a silently kept side
  });

  it('both branches change the same stage: the later run wins, the lock is valid and status says what is stale', async () => {
    const rc = `version: 1
stages:
  train:
    cmd: cat a.txt b.txt > model.txt && echo train >> runs.log
    deps: [a.txt, b.txt]
    outs: [model.txt]
`;
    const repo = await teamRepo(rc, { 'a.txt': 'a0\n', 'b.txt': 'b0\n', '.gitignore': '.dvcl/\nruns.log\nmodel.txt\n' });
    ok(repo.run('repro'));
    repo.commitAll('base');

    repo.git('checkout', '-q', '-b', 'feature');
    repo.git('checkout', '-q', 'main');
    repo.write('b.txt', 'b-main\n');
    ok(repo.run('repro'));
    repo.commitAll('main changes b');
    const mainRun = parse(repo.lock()!).stages.train.run;

    await sleep(1100); // run ids have a resolution of one second
    repo.git('checkout', '-q', 'feature');
    repo.write('a.txt', 'a-feature\n');
    ok(repo.run('repro'));
    repo.commitAll('feature changes a');
    const featureRun = parse(repo.lock()!).stages.train.run;
    expect(featureRun > mainRun).toBe(true);

    repo.git('checkout', '-q', 'main'); // model.txt is ignored: the checkout leaves feature's in place
    repo.takeRuns();
    const merge = gitTry(repo.dir, 'merge', '--no-edit', 'feature');
    expect(merge.code, merge.out).toBe(0);
    const lock = parse(repo.lock()!);
    expect(lock.stages.train.run).toBe(featureRun);
    const merged = repo.lock();
    ok(repo.run('status'));
    expect(repo.lock()).toBe(merged); // status changes nothing

    const st = json(repo.run('status', '--json'));
    expect(st.stages[0].state).toBe('stale');
    expect(st.stages[0].reasons).toContainEqual(expect.objectContaining({ code: 'dep_changed', path: 'b.txt' }));
    expect(st.stages[0].reasons).not.toContainEqual(expect.objectContaining({ path: 'a.txt' }));
    expect(repo.run('status', '--check').code).toBe(1);
    ok(repo.run('repro'));
    expect(repo.takeRuns()).toEqual(['train']);
    expect(repo.read('model.txt')).toBe('a-feature\nb-main\n');
    expect(repo.run('status', '--check').code).toBe(0);
  });

  it('one branch removes a stage: the merge drops its lock and manifest entries', async () => {
    const rc = `version: 1
stages:
  keep:
    cmd: cp k.txt k.out
    deps: [k.txt]
    outs: [k.out]
  drop:
    cmd: cp d.txt d.out
    deps: [d.txt]
    outs: [d.out]
`;
    const repo = await teamRepo(rc, { 'k.txt': 'k\n', 'd.txt': 'd\n' });
    ok(repo.run('repro'));
    repo.commitAll('base');

    repo.git('checkout', '-q', '-b', 'feature');
    repo.write('.pipelinerc', rc.replace(/ {2}drop:[\s\S]*$/, ''));
    ok(repo.run('prune', '--deleted'));
    expect(Object.keys(parse(repo.lock()!).stages)).toEqual(['keep']);
    repo.commitAll('remove stage drop');

    repo.git('checkout', '-q', 'main');
    repo.write('k.txt', 'k2\n');
    ok(repo.run('repro'));
    repo.commitAll('main changes keep');
    const keepRun = parse(repo.lock()!).stages.keep.run;

    const merge = gitTry(repo.dir, 'merge', '--no-edit', 'feature');
    expect(merge.code, merge.out).toBe(0);
    expect(Object.keys(parse(repo.lock()!).stages)).toEqual(['keep']);
    expect(parse(repo.lock()!).stages.keep.run).toBe(keepRun);
    expect(Object.keys(JSON.parse(repo.manifest()!).stages)).toEqual(['keep']);
    expect(ok(repo.run('status', '--check')).stdout).toMatch(/up to date/);
  });

  it('a lock and manifest added on both branches (no common version) merge too', async () => {
    const rc = `version: 1
stages:
  x:
    cmd: cp x.txt x.out
    deps: [x.txt]
    outs: [x.out]
  y:
    cmd: cp y.txt y.out
    deps: [y.txt]
    outs: [y.out]
`;
    const repo = await teamRepo(rc, { 'x.txt': 'x\n', 'y.txt': 'y\n' });
    repo.commitAll('no run yet');
    repo.git('checkout', '-q', '-b', 'feature');
    ok(repo.run('repro', 'x'));
    repo.commitAll('x');
    repo.git('checkout', '-q', 'main');
    ok(repo.run('repro', 'y'));
    repo.commitAll('y');
    const merge = gitTry(repo.dir, 'merge', '--no-edit', 'feature');
    expect(merge.code, merge.out).toBe(0);
    expect(Object.keys(parse(repo.lock()!).stages)).toEqual(['x', 'y']);
    expect(Object.keys(JSON.parse(repo.manifest()!).runs)).toHaveLength(2);
    expect(repo.run('status', '--check').code).toBe(0);
  });

  it('a side that cannot be parsed leaves a normal conflict, and the driver says why', async () => {
    const rc = `version: 1
stages:
  s:
    cmd: cp s.txt s.out
    deps: [s.txt]
    outs: [s.out]
`;
    const repo = await teamRepo(rc, { 's.txt': 's\n' });
    ok(repo.run('repro'));
    repo.commitAll('base');
    repo.git('checkout', '-q', '-b', 'feature');
    repo.write('pipeline.lock', 'schema: 1\nstages: [\n');
    repo.commitAll('broken lock');
    repo.git('checkout', '-q', 'main');
    repo.write('s.txt', 's2\n');
    ok(repo.run('repro'));
    repo.commitAll('main runs');
    const ours = repo.lock();

    const merge = gitTry(repo.dir, 'merge', '--no-edit', 'feature');
    expect(merge.code).toBe(1);
    expect(merge.out).toMatch(/CONFLICT \(content\): Merge conflict in pipeline\.lock/);
    expect(merge.out).toMatch(/cannot merge pipeline\.lock: pipeline\.lock \(theirs\): not valid YAML/);
    expect(repo.git('diff', '--name-only', '--diff-filter=U')).toBe('pipeline.lock');
    expect(repo.lock()).toBe(ours); // OURS as it was: the driver wrote nothing
    // The README's recovery, as written, works mid-merge (plain `git checkout --` is refused there).
    expect(gitTry(repo.dir, 'checkout', '--', 'pipeline.lock').code).not.toBe(0);
    expect(gitTry(repo.dir, 'checkout', '--ours', '--', 'pipeline.lock').code).toBe(0);
    ok(repo.run('repro'));
    expect(gitTry(repo.dir, 'add', 'pipeline.lock', '.manifest.json').code).toBe(0);
    expect(gitTry(repo.dir, 'commit', '-q', '--no-edit').code).toBe(0);
    expect(repo.run('status', '--check').code).toBe(0);
  });
});

describe('a teammate clones the repository', () => {
  const RC = `version: 1
stages:
  copy:
    foreach: in/*.txt
    out: out/\${stem}.txt
    cmd: cp \${item} \${out} && echo \${item} >> runs.log
  report:
    cmd: cat out/a.txt out/b.txt > report.txt && echo report >> runs.log
    deps: [out]
    outs: [report.txt]
`;

  async function pushed(gitignore = '.dvcl/\nruns.log\n'): Promise<{ a: PipelineRepo; bare: string }> {
    const a = await teamRepo(RC, { 'in/a.txt': 'a\n', 'in/b.txt': 'b\n', '.gitignore': gitignore });
    ok(a.run('repro'));
    expect(a.takeRuns().sort()).toEqual(['in/a.txt', 'in/b.txt', 'report']);
    a.commitAll('run the pipeline');
    const bare = tempDir();
    spawnSync('git', ['init', '-q', '--bare', '-b', 'main', bare]);
    a.git('remote', 'add', 'origin', bare);
    a.git('push', '-q', 'origin', 'main');
    return { a, bare };
  }

  function clone(bare: string): PipelineRepo {
    const dir = path.join(tempDir(), 'b');
    spawnSync('git', ['clone', '-q', bare, dir]);
    const git = (...args: string[]) => spawnSync('git', args, { cwd: dir, encoding: 'utf8' }).stdout.trim();
    return withShortcuts({
      dir, git, write: (rel, text) => fs.writeFileSync(path.join(dir, rel), text), read: (rel) => fs.readFileSync(path.join(dir, rel), 'utf8'),
      exists: (rel) => fs.existsSync(path.join(dir, rel)), cleanup: () => undefined,
    });
  }

  it('trusts the committed lock and manifest: status --check passes and repro runs nothing', async () => {
    const { bare } = await pushed();
    const b = clone(bare);
    expect(b.exists('.dvcl')).toBe(false);
    const st = b.run('status', '--check');
    expect(st.code, st.stdout + st.stderr).toBe(0);
    const r = json<ReproJson>(ok(b.run('repro', '--json')));
    expect(results(r)).toEqual({ copy: 'skipped', report: 'skipped' });
    expect(b.takeRuns()).toEqual([]);
    expect(b.git('status', '--porcelain')).toBe(''); // nothing rewritten either
  });

  it('a clone where dvcl init never ran is told so by status and repro; after init, no warning (issue 12.21)', async () => {
    const { bare } = await pushed();
    const b = clone(bare);
    for (const cmd of ['status', 'repro']) {
      expect(b.run(cmd).stderr, cmd).toMatch(/warning: the dvcl merge driver is not registered in this clone: .*run `dvcl init` once/);
    }
    ok(b.run('init'));
    expect(b.run('status').stderr).toBe('');
  });

  it('a pipeline.lock that git ignores is warned about, naming the .gitignore line (issue 12.10)', async () => {
    const repo = await pipelineRepo(RC, { 'in/a.txt': 'a\n', 'in/b.txt': 'b\n', '.gitignore': '.dvcl/\nruns.log\n*.lock\n' });
    const r = repo.run('repro');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: pipeline\.lock is ignored by git \(\.gitignore:3: \*\.lock\): it is never committed/);
    expect(repo.run('status').stderr).toMatch(/pipeline\.lock is ignored by git/);
    repo.git('add', '-f', 'pipeline.lock');
    expect(repo.run('status').stderr).not.toMatch(/ignored by git/); // tracked: shared after all
  });

  it('an out that is git-ignored is missing in the clone: out_missing, with a hint', async () => {
    const { bare } = await pushed('.dvcl/\nruns.log\nreport.txt\n');
    const b = clone(bare);
    const st = b.run('status');
    expect(st.stdout).toMatch(/out report\.txt is missing \(git-ignored, so clones do not get it/);
    const j = json(b.run('status', '--json'));
    expect(j.stages.find((s: any) => s.name === 'report').reasons).toEqual([{ code: 'out_missing', path: 'report.txt', ignored: true }]);
    expect(b.run('status', '--check').code).toBe(1);
    expect(b.takeRuns()).toEqual([]); // status never re-creates anything
  });
});

describe('dvcl init --hooks', () => {
  const RC = `version: 1
stages:
  s:
    cmd: cp s.txt s.out
    deps: [s.txt]
    outs: [s.out]
`;

  it('installs a pre-commit hook that warns about a stale lock and never blocks the commit', async () => {
    const repo = await pipelineRepo(RC, { 's.txt': 's\n' });
    const r = ok(repo.run('init', '--hooks'));
    expect(r.stdout).toMatch(/installed the pre-commit hook/);
    ok(repo.run('repro'));
    repo.commitAll('up to date'); // the hook is quiet

    repo.write('s.txt', 'changed\n');
    repo.git('add', 's.txt');
    const c = gitTry(repo.dir, 'commit', '-m', 'stale');
    expect(c.code, c.out).toBe(0);
    expect(c.out).toMatch(/dvcl: warning: pipeline\.lock is not up to date with the working tree/);
    expect(c.out).toMatch(/dep s\.txt changed/);
    expect(repo.git('log', '-1', '--format=%s')).toBe('stale');

    const stillStale = gitTry(repo.dir, 'commit', '--allow-empty', '-m', 'still stale');
    expect(stillStale.out).toMatch(/warning/);
    const skipped = spawnSync('git', ['commit', '--allow-empty', '-m', 'skipped'], { cwd: repo.dir, encoding: 'utf8', env: { ...process.env, DVCL_SKIP_HOOK: '1' } });
    expect(skipped.stderr + skipped.stdout).not.toMatch(/warning/);
  });

  it('keeps an existing hook: one guarded line at its top, added once, and both run', async () => {
    const repo = await pipelineRepo(RC, { 's.txt': 's\n' });
    const hook = path.join(repo.dir, '.git/hooks/pre-commit');
    const mine = '#!/bin/sh\necho "my hook ran" >&2\nexec true\n';
    fs.writeFileSync(hook, mine, { mode: 0o755 });
    expect(ok(repo.run('init', '--hooks')).stdout).toMatch(/added a call to dvcl's check at the top of the existing/);
    const text = fs.readFileSync(hook, 'utf8');
    expect(text.startsWith('#!/bin/sh\n[ ! -x "$(dirname "$0")/dvcl-pre-commit" ]')).toBe(true);
    expect(text.endsWith('echo "my hook ran" >&2\nexec true\n')).toBe(true);
    expect(ok(repo.run('init', '--hooks')).stdout).toMatch(/nothing changed/);
    expect(fs.readFileSync(hook, 'utf8')).toBe(text);

    repo.write('s.txt', 'changed\n');
    const c = gitTry(repo.dir, 'commit', '-am', 'x');
    expect(c.code, c.out).toBe(0);
    expect(c.out).toMatch(/dvcl: warning: pipeline\.lock is not up to date/);
    expect(c.out).toMatch(/my hook ran/);
  });

  it('leaves a hook in another language alone, with a warning that says how to chain it', async () => {
    const repo = await pipelineRepo(RC, { 's.txt': 's\n' });
    const hook = path.join(repo.dir, '.git/hooks/pre-commit');
    fs.writeFileSync(hook, '#!/usr/bin/env python3\nprint("hi")\n', { mode: 0o755 });
    const r = ok(repo.run('init', '--hooks'));
    expect(r.stderr).toMatch(/pre-commit is not a shell script/);
    expect(fs.readFileSync(hook, 'utf8')).toBe('#!/usr/bin/env python3\nprint("hi")\n');
    expect(fs.existsSync(path.join(repo.dir, '.git/hooks/dvcl-pre-commit'))).toBe(true);
  });
});
