// The run cache (issue 15, points 1–3) through the built CLI: entries recorded after a run, stale
// stages and item outputs restored instead of run (locally, or from a folder remote), --pull in a
// fresh clone, and what is never restored. Commands append to a counter file outside the repos.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { dvcl, json, type CliResult } from './helpers/cli.js';
import { cleanupRepos, cloneOf, pipelineRepo, tempDir, type PipelineRepo } from './helpers/pipeline.js';

afterEach(cleanupRepos);

const ok = (r: CliResult) => {
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return r;
};

const clone = (repo: PipelineRepo) => cloneOf(repo.dir);

/** Each command appends its stage's name to this file, outside every repository. */
class Counter {
  readonly file = path.join(tempDir('dvcl-counter-'), 'count');
  run(repo: PipelineRepo, ...args: string[]): CliResult {
    return dvcl(repo.dir, args, { env: { COUNTER: this.file } });
  }
  take(): string[] {
    const text = fs.existsSync(this.file) ? fs.readFileSync(this.file, 'utf8') : '';
    fs.rmSync(this.file, { force: true });
    return text.split('\n').filter(Boolean).sort();
  }
}

const RC = (remote: string, extra = '') => `version: 1
settings:
  remote: ${JSON.stringify(remote)}
${extra}stages:
  prep:
    cmd: cat in.txt params.yaml > prep.txt && echo prep >> "$COUNTER"
    deps: [in.txt]
    params: [p]
    outs: [prep.txt]
  tree:
    cmd: mkdir -p out/d && cp prep.txt out/d/x.txt && echo tree >> "$COUNTER"
    deps: [prep.txt]
    outs: [out]
  items:
    foreach: in/*.txt
    out: parsed/\${name}
    cmd: cp \${item} \${out} && echo item >> "$COUNTER"
`;

const IGNORED = '.dvcl/\nprep.txt\nout/\nparsed/\n';

async function project(extra = ''): Promise<{ a: PipelineRepo; remote: string; c: Counter }> {
  const remote = tempDir('dvcl-remote-');
  const a = await pipelineRepo(RC(remote, extra), { 'in.txt': 'input\n', 'params.yaml': 'p: 1\n', 'in/x.txt': 'x\n', 'in/y.txt': 'y\n', '.gitignore': IGNORED });
  const c = new Counter();
  ok(c.run(a, 'repro'));
  expect(c.take()).toEqual(['item', 'item', 'prep', 'tree']);
  a.commitAll('ran');
  return { a, remote, c };
}

const resultsOf = (r: CliResult) => Object.fromEntries(json(r).stages.map((s: { name: string; result: string; restored_from?: string }) => [s.name, s.restored_from ? `${s.result}:${s.restored_from}` : s.result]));

it('a fresh clone restores everything with repro --pull: no command runs, status is up to date', async () => {
  const { a, c } = await project();
  ok(c.run(a, 'push'));
  const b = clone(a);
  expect(b.exists('prep.txt')).toBe(false);
  ok(c.run(b, 'repro', '--pull'));
  expect(c.take()).toEqual([]);
  expect(b.read('out/d/x.txt')).toBe(a.read('out/d/x.txt'));
  expect(b.read('parsed/x.txt')).toBe('x\n');
  expect(b.status().up_to_date).toBe(true);
});

it('a clone restores a stage from the remote run cache for inputs a teammate ran but did not commit', async () => {
  const { a, c } = await project();
  a.write('params.yaml', 'p: 2\n');
  ok(c.run(a, 'repro'));
  expect(c.take()).toEqual(['prep', 'tree']);
  ok(c.run(a, 'push'));
  const b = clone(a); // its lock is p: 1's
  b.write('params.yaml', 'p: 2\n');
  const r = ok(c.run(b, 'repro', '--pull', '--json'));
  expect(resultsOf(r)).toMatchObject({ prep: 'restored:remote', tree: 'restored:remote' });
  expect(c.take()).toEqual([]);
  expect(b.read('prep.txt')).toBe('input\np: 2\n');
  expect(b.status().up_to_date).toBe(true);
});

it('a git revert of a param change restores from the local run cache instead of running', async () => {
  const { a, c } = await project();
  a.write('params.yaml', 'p: 2\n');
  ok(c.run(a, 'repro'));
  expect(c.take()).toEqual(['prep', 'tree']);
  a.commitAll('p 2');
  a.git('revert', '--no-edit', 'HEAD');
  const r = ok(c.run(a, 'repro', '--json'));
  expect(resultsOf(r)).toMatchObject({ prep: 'restored:local', tree: 'restored:local' });
  expect(c.take()).toEqual([]);
  expect(a.read('prep.txt')).toBe('input\np: 1\n');
  expect(a.status().up_to_date).toBe(true);
  const text = ok(c.run(a, 'repro', '--no-run-cache', '-f', 'prep', '-s'));
  expect(text.stdout).toContain('ran');
  expect(c.take()).toEqual(['prep']);
});

it('--no-run-cache and settings.run_cache: false run the command', async () => {
  const { a, c } = await project();
  a.write('params.yaml', 'p: 2\n');
  ok(c.run(a, 'repro'));
  a.write('params.yaml', 'p: 1\n');
  c.take();
  ok(c.run(a, 'repro', '--no-run-cache'));
  expect(c.take()).toEqual(['prep', 'tree']);
  a.write('params.yaml', 'p: 2\n');
  a.write('.pipelinerc.local', 'settings:\n  run_cache: false\n');
  ok(c.run(a, 'repro'));
  expect(c.take()).toEqual(['prep', 'tree']);
});

it('restores in text says so, and where from', async () => {
  const { a, c } = await project();
  fs.rmSync(path.join(a.dir, 'prep.txt'));
  a.write('params.yaml', 'p: 2\n');
  ok(c.run(a, 'repro'));
  a.write('params.yaml', 'p: 1\n');
  c.take();
  const r = ok(c.run(a, 'repro'));
  expect(r.stderr + r.stdout).toContain('prep restored from the run cache (local cache)');
  expect(r.stdout).toContain('2 restored');
  expect(c.take()).toEqual([]);
});

it('a stage whose dep is edited while it runs records no run cache entry', async () => {
  const remote = tempDir('dvcl-remote-');
  const a = await pipelineRepo(`version: 1
settings:
  remote: ${JSON.stringify(remote)}
stages:
  s:
    cmd: cat in.txt > o.txt && echo more >> in.txt && echo s >> "$COUNTER"
    deps: [in.txt]
    outs: [o.txt]
`, { 'in.txt': 'v1\n' });
  const c = new Counter();
  ok(c.run(a, 'repro'));
  expect(c.take()).toEqual(['s']);
  a.write('in.txt', 'v1\n'); // back to the content the run started from, which its lock entry records
  fs.rmSync(path.join(a.dir, 'o.txt'));
  ok(c.run(a, 'repro'));
  expect(c.take()).toEqual(['s']);
  expect(fs.existsSync(path.join(a.dir, '.dvcl/runs'))).toBe(false);
});

it('always_changed and persist stages are never restored', async () => {
  const a = await pipelineRepo(`version: 1
stages:
  always:
    cmd: cat params.yaml > a.txt && echo always >> "$COUNTER"
    params: [p]
    outs: [a.txt]
    always_changed: true
  kept:
    cmd: cat params.yaml >> k.txt && echo kept >> "$COUNTER"
    params: [p]
    outs: [k.txt]
    persist: true
`, { 'params.yaml': 'p: 1\n' });
  const c = new Counter();
  ok(c.run(a, 'repro'));
  a.write('params.yaml', 'p: 2\n');
  ok(c.run(a, 'repro'));
  a.write('params.yaml', 'p: 1\n');
  c.take();
  ok(c.run(a, 'repro'));
  expect(c.take()).toEqual(['always', 'kept']);
});

it('per-item: a deleted item output is placed from the cache, and a clone of a pushed project runs no item', async () => {
  const { a, c } = await project();
  fs.rmSync(path.join(a.dir, 'parsed/x.txt'));
  const r = ok(c.run(a, 'repro', '--json'));
  expect(json(r).stages.find((s: { name: string }) => s.name === 'items')).toMatchObject({ result: 'restored', items: { ran: 0, restored: 1 } });
  expect(c.take()).toEqual([]);
  expect(a.read('parsed/x.txt')).toBe('x\n');
  ok(c.run(a, 'push'));
  const b = clone(a);
  ok(c.run(b, 'repro', '--pull', 'items'));
  expect(c.take()).toEqual([]);
  expect(b.read('parsed/x.txt')).toBe('x\n');
  expect(b.read('parsed/y.txt')).toBe('y\n');
  expect(b.status('items').up_to_date).toBe(true);
});

it('an edited output is never overwritten by a restore: the stage runs instead', async () => {
  const { a, c } = await project();
  a.write('params.yaml', 'p: 2\n');
  ok(c.run(a, 'repro'));
  a.write('params.yaml', 'p: 1\n');
  a.write('prep.txt', 'mine\n');
  c.take();
  ok(c.run(a, 'repro'));
  expect(c.take()).toContain('prep');
});

it('settings.run_cache: maybe is a configuration error naming file, line and key (exit 2)', async () => {
  const a = await pipelineRepo('version: 1\nsettings:\n  run_cache: maybe\nstages:\n  s:\n    cmd: echo\n');
  const r = a.run('status');
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/\.pipelinerc:3:\d+: settings\.run_cache: must be true, false or pull/);
});

it('a corrupt run cache entry is ignored with a warning: the stage runs, nothing wrong is restored', async () => {
  const { a, c } = await project();
  a.write('params.yaml', 'p: 2\n');
  ok(c.run(a, 'repro'));
  a.write('params.yaml', 'p: 1\n');
  c.take();
  const runs = path.join(a.dir, '.dvcl/runs');
  const files: string[] = [];
  const walk = (d: string) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) (e.isDirectory() ? walk(path.join(d, e.name)) : files.push(path.join(d, e.name))); };
  walk(runs);
  expect(files.length).toBeGreaterThanOrEqual(4);
  for (const f of files) fs.writeFileSync(f, '{"version": 1, "outs": [{"path": "prep.txt", "hash": "nope"');
  const r = ok(c.run(a, 'repro'));
  expect(r.stderr).toContain('not a valid entry for this stage: ignored, the stage runs');
  expect(c.take()).toEqual(['prep', 'tree']);
  expect(a.read('prep.txt')).toBe('input\np: 1\n');
});

it('per-item: items of a stage key run before are restored, here after a param goes back, and in a clone from the remote', async () => {
  const remote = tempDir('dvcl-remote-');
  const a = await pipelineRepo(`version: 1
settings:
  remote: ${JSON.stringify(remote)}
stages:
  items:
    foreach: in/*.txt
    out: parsed/\${name}
    cmd: cat \${item} params.yaml > \${out} && echo item >> "$COUNTER"
    params: [q]
`, { 'params.yaml': 'q: 1\n', 'in/x.txt': 'x\n', 'in/y.txt': 'y\n', '.gitignore': IGNORED });
  const c = new Counter();
  ok(c.run(a, 'repro'));
  a.commitAll('q 1');
  a.write('params.yaml', 'q: 2\n');
  ok(c.run(a, 'repro'));
  expect(c.take()).toEqual(['item', 'item', 'item', 'item']);
  a.write('params.yaml', 'q: 1\n');
  const r = ok(c.run(a, 'repro', '--json'));
  expect(json(r).stages[0]).toMatchObject({ result: 'restored', items: { ran: 0, restored: 2 } });
  expect(c.take()).toEqual([]);
  expect(a.read('parsed/x.txt')).toBe('x\nq: 1\n');
  expect(a.status().up_to_date).toBe(true);

  a.write('params.yaml', 'q: 2\n');
  ok(c.run(a, 'repro'));
  expect(c.take()).toEqual([]);
  ok(c.run(a, 'push'));
  const b = clone(a); // its manifest is q: 1's
  b.write('params.yaml', 'q: 2\n');
  const rb = ok(c.run(b, 'repro', '--pull', '--json'));
  expect(json(rb).stages[0]).toMatchObject({ result: 'restored', restored_from: 'remote', items: { ran: 0, restored: 2 } });
  expect(c.take()).toEqual([]);
  expect(b.read('parsed/y.txt')).toBe('y\nq: 2\n');
  expect(b.status().up_to_date).toBe(true);
});

it('an entry whose objects are corrupt restores nothing: the stage runs and its outs are right', async () => {
  const { a, c } = await project();
  a.write('params.yaml', 'p: 2\n');
  ok(c.run(a, 'repro'));
  a.write('params.yaml', 'p: 1\n');
  c.take();
  const walk = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]));
  for (const f of walk(path.join(a.dir, '.dvcl/objects'))) fs.writeFileSync(f, 'garbage\n');
  const r = ok(c.run(a, 'repro'));
  expect(c.take()).toContain('prep');
  expect(r.stderr).toMatch(/corrupt/);
  expect(a.read('prep.txt')).toBe('input\np: 1\n');
  expect(a.status().up_to_date).toBe(true);
});

it('retry --pull in a fresh clone: the outputs the failures need are pulled, then only the failures run', async () => {
  const remote = tempDir('dvcl-remote-');
  const gate = path.join(tempDir('dvcl-gate-'), 'open');
  const a = await pipelineRepo(`version: 1
settings:
  remote: ${JSON.stringify(remote)}
stages:
  prep:
    cmd: cat in.txt > prep.txt && echo prep >> "$COUNTER"
    deps: [in.txt]
    outs: [prep.txt]
  items:
    foreach: in/*.txt
    out: parsed/\${name}
    cmd: echo item >> "$COUNTER" && { [ \${name} != y.txt ] || [ -e "$GATE" ]; } && cat prep.txt \${item} > \${out}
    deps: [prep.txt]
`, { 'in.txt': 'input\n', 'in/x.txt': 'x\n', 'in/y.txt': 'y\n', '.gitignore': IGNORED });
  const c = new Counter();
  const run = (repo: PipelineRepo, ...args: string[]) => dvcl(repo.dir, args, { env: { COUNTER: c.file, GATE: gate } });
  expect(run(a, 'repro').code).toBe(1); // y fails while the gate is shut
  expect(c.take()).toEqual(['item', 'item', 'prep']);
  ok(run(a, 'push'));
  a.commitAll('ran, y failed');

  const b = clone(a);
  expect(b.exists('prep.txt')).toBe(false);
  fs.writeFileSync(gate, '');
  ok(run(b, 'retry', '--only-failed', '--pull'));
  expect(c.take()).toEqual(['item']); // y only: prep was pulled, not run; x was not run again
  expect(b.read('parsed/y.txt')).toBe('input\ny\n');
  expect(b.read('parsed/x.txt')).toBe('input\nx\n');
  expect(b.status().up_to_date).toBe(true);
});
