// What `repro` runs and why, through the library on real git repositories: the change-detection
// cases moved here from repro.e2e (issue 13), each with its assertions. The binary's text, exit
// codes for bad input and flags stay in repro.e2e.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { A_B_C, cleanupRepos, pipelineRepo, results } from './helpers/pipeline.js';
import { inProcess } from './helpers/in-process.js';

afterEach(cleanupRepos);

/** A→B→C, run once, runs.log emptied. */
async function ranChain(files: Record<string, string> = {}) {
  const repo = await pipelineRepo(A_B_C, { 'in.txt': 'one\ntwo\n', ...files });
  const lib = inProcess(repo);
  expect((await lib.repro()).code).toBe(0);
  expect(repo.takeRuns()).toEqual(['A', 'B', 'C']);
  return { repo, lib };
}

describe('repro: change detection on a chain A→B→C', () => {
  it('first run creates the lock, one entry per stage, tied to HEAD', async () => {
    const repo = await pipelineRepo(A_B_C, { 'in.txt': 'one\ntwo\n' });
    expect(repo.lock()).toBeNull();
    expect((await inProcess(repo).repro()).code).toBe(0);
    expect(repo.takeRuns()).toEqual(['A', 'B', 'C']);
    const lock = parse(repo.lock()!);
    expect(lock.schema).toBe(1);
    expect(Object.keys(lock.stages)).toEqual(['A', 'B', 'C']);
    expect(lock.stages.A.cmd).toBe('head -n 1 in.txt > a.txt && echo A >> runs.log');
    expect(lock.stages.A.deps).toEqual([{ path: 'in.txt', hash: expect.stringMatching(/^xxh128:[0-9a-f]{32}$/), size: 8 }]);
    expect(lock.stages.A.outs).toEqual([{ path: 'a.txt', hash: expect.stringMatching(/^xxh128:/), size: 4 }]);
    // B's dep is A's out: the same content, the same hash
    expect(lock.stages.B.deps[0].hash).toBe(lock.stages.A.outs[0].hash);
    expect(lock.stages.A.git).toEqual({ commit: repo.git('rev-parse', 'HEAD'), branch: 'main', dirty: false });
    expect(JSON.parse(repo.manifest()!).runs).toHaveProperty([lock.stages.A.run]);
    expect(repo.read('c.txt')).toBe('one\n');
    expect(repo.read('.dvcl/logs/A.log')).toBe('');
  });

  it('a whitespace change in one cmd re-runs only that stage', async () => {
    const { repo, lib } = await ranChain();
    repo.write('.pipelinerc', A_B_C.replace('cp a.txt b.txt', 'cp  a.txt  b.txt'));
    const st = await lib.status();
    expect(st.stages.find((s) => s.name === 'B')!.reasons).toEqual([{ code: 'cmd_changed' }]);
    expect(st.stages.find((s) => s.name === 'C')!.reasons).toEqual([{ code: 'upstream_stale', stage: 'B' }]);
    expect((await lib.repro()).code).toBe(0);
    expect(repo.takeRuns()).toEqual(['B']); // C: B's out is the same file, so C is not re-run
    expect(parse(repo.lock()!).stages.B.cmd).toBe('cp  a.txt  b.txt && echo B >> runs.log');
  });

  it('a dep change propagates A→B→C', async () => {
    const { repo, lib } = await ranChain();
    repo.write('in.txt', 'ONE\ntwo\n');
    expect((await lib.repro()).code).toBe(0);
    expect(repo.takeRuns()).toEqual(['A', 'B', 'C']);
    expect(repo.read('c.txt')).toBe('ONE\n');
    expect((await lib.status()).up_to_date).toBe(true);
  });

  it('identical output stops propagation (early cutoff)', async () => {
    const { repo, lib } = await ranChain();
    const before = parse(repo.lock()!);
    repo.write('in.txt', 'one\nsecond line changed\n'); // A reads only the first line
    expect(results((await lib.repro()).json)).toEqual({ A: 'ran', B: 'skipped', C: 'skipped' });
    expect(repo.takeRuns()).toEqual(['A']);
    const after = parse(repo.lock()!);
    expect(after.stages.A.deps[0].hash).not.toBe(before.stages.A.deps[0].hash);
    expect(after.stages.B).toEqual(before.stages.B);
    expect(await lib.check()).toBe(0);
  });

  it('a deleted out re-runs its stage; a hand-edited out is restored', async () => {
    const { repo, lib } = await ranChain();
    fs.rmSync(path.join(repo.dir, 'a.txt'));
    expect((await lib.status()).stages[0]).toEqual({ name: 'A', state: 'stale', reasons: [{ code: 'out_missing', path: 'a.txt', restorable: true }] }); // in the local cache: checkout restores it
    expect((await lib.repro({ runCache: false })).code).toBe(0); // the run cache would place it instead
    expect(repo.takeRuns()).toEqual(['A']); // same a.txt again: B and C stay

    repo.write('b.txt', 'edited by hand\n');
    const b = (await lib.status()).stages[1];
    expect(b.state).toBe('stale');
    expect(b.reasons).toEqual([expect.objectContaining({ code: 'out_changed', path: 'b.txt' })]);
    expect((await lib.repro()).code).toBe(0);
    expect(repo.takeRuns()).toEqual(['B']);
    expect(repo.read('b.txt')).toBe('one\n');
  });

  it('a dep reorder in .pipelinerc does not change pipeline.lock', async () => {
    const rc = (deps: string, outs: string) => `version: 1
stages:
  join:
    cmd: cat x.txt y.txt > xy.txt && cp x.txt x2.txt && echo join >> runs.log
    deps: ${deps}
    outs: ${outs}
`;
    const repo = await pipelineRepo(rc('[x.txt, y.txt]', '[xy.txt, x2.txt]'), { 'x.txt': 'x\n', 'y.txt': 'y\n' });
    const lib = inProcess(repo);
    expect((await lib.repro()).code).toBe(0);
    expect(repo.takeRuns()).toEqual(['join']);
    const before = repo.lock()!;
    expect(parse(before).stages.join.deps.map((d: { path: string }) => d.path)).toEqual(['x.txt', 'y.txt']);
    expect(parse(before).stages.join.outs.map((d: { path: string }) => d.path)).toEqual(['x2.txt', 'xy.txt']);
    repo.write('.pipelinerc', rc('[y.txt, x.txt]', '[x2.txt, xy.txt]'));
    expect(await lib.check()).toBe(0);
    expect((await lib.repro()).code).toBe(0);
    expect(repo.takeRuns()).toEqual([]);
    expect(repo.lock()).toBe(before);
  });

  it('pipeline.lock is byte-deterministic: declaration order, dep order and run order do not matter', async () => {
    const stage = (name: string, inputs: string[], deps: string[]) =>
      `  ${name}:\n    cmd: cat ${inputs.join(' ')} > ${name}.out\n    deps: [${deps.join(', ')}]\n    params: [b, a]\n    outs: [${name}.out]\n`;
    const files = { 'p.txt': 'p\n', 'q.txt': 'q\n', 'params.yaml': 'b: 2\na: 1\n' };
    const one = await pipelineRepo(`version: 1\nstages:\n${stage('zeta', ['p.txt', 'q.txt'], ['p.txt', 'q.txt'])}${stage('alpha', ['q.txt'], ['q.txt'])}${stage('mid', ['zeta.out', 'alpha.out'], ['zeta.out', 'alpha.out'])}`, files);
    const two = await pipelineRepo(`version: 1\nstages:\n${stage('mid', ['zeta.out', 'alpha.out'], ['alpha.out', 'zeta.out'])}${stage('alpha', ['q.txt'], ['q.txt'])}${stage('zeta', ['p.txt', 'q.txt'], ['q.txt', 'p.txt'])}`, files);
    expect((await inProcess(one).repro({ jobs: 1 })).code).toBe(0);
    expect((await inProcess(two).repro({ jobs: 2 })).code).toBe(0);
    // only what really differs between the two repositories: the commit and the run id
    const norm = (s: string) => s.replace(/commit: [0-9a-f]{40}/g, 'commit: C').replace(/run: \S+/g, 'run: R');
    expect(norm(one.lock()!)).toBe(norm(two.lock()!));
    const lock = parse(one.lock()!);
    expect(Object.keys(lock.stages)).toEqual(['alpha', 'mid', 'zeta']);
    expect(Object.keys(lock.stages.mid)).toEqual(['cmd', 'deps', 'params', 'outs', 'git', 'run']);
    expect(lock.stages.mid.params).toEqual({ 'params.yaml': { a: 1, b: 2 } });
    expect(one.lock()).toMatch(/^    params:\n      params.yaml:\n        a: 1\n        b: 2\n/m);
  });
});

describe('repro: params', () => {
  const rc = `version: 1
stages:
  train:
    cmd: echo trained > model.txt && echo train >> runs.log
    params: [train.lr]
    outs: [model.txt]
`;
  it('an untracked key changing runs nothing; a tracked one re-runs, and status says which key and how', async () => {
    const repo = await pipelineRepo(rc, { 'params.yaml': 'train:\n  lr: 0.1\n  epochs: 3\nother: x\n' });
    const lib = inProcess(repo);
    expect((await lib.repro()).code).toBe(0);
    expect(repo.takeRuns()).toEqual(['train']);
    expect(parse(repo.lock()!).stages.train.params).toEqual({ 'params.yaml': { 'train.lr': 0.1 } });

    repo.write('params.yaml', 'train:\n  lr: 0.1\n  epochs: 30\nother: y\n');
    expect((await lib.status()).up_to_date).toBe(true);
    expect((await lib.repro()).code).toBe(0);
    expect(repo.takeRuns()).toEqual([]);

    repo.write('params.yaml', 'train:\n  lr: 0.25\n  epochs: 30\nother: y\n');
    expect((await lib.status()).stages[0]).toEqual({
      name: 'train', state: 'stale',
      reasons: [expect.objectContaining({ code: 'param_changed', key: 'train.lr', old: 0.1, new: 0.25 })],
    });
    expect((await lib.repro()).code).toBe(0);
    expect(repo.takeRuns()).toEqual(['train']);
    expect(parse(repo.lock()!).stages.train.params).toEqual({ 'params.yaml': { 'train.lr': 0.25 } });
  });

  it('`{params.yaml: null}` tracks every key: a change to any of them, or a new one, re-runs the stage (issue 12.7)', async () => {
    const repo = await pipelineRepo(`version: 1
stages:
  train:
    cmd: cat params.yaml > model.txt && echo train >> runs.log
    params: [{params.yaml: null}]
    outs: [model.txt]
  other:
    cmd: echo other >> runs.log && touch other.txt
    params: [lr]
    outs: [other.txt]
`, { 'params.yaml': 'lr: 0.1\nlayers: {a: 1}\n' });
    const lib = inProcess(repo);
    expect((await lib.repro()).code).toBe(0);
    expect(repo.takeRuns().sort()).toEqual(['other', 'train']);
    expect(parse(repo.lock()!).stages.train.params).toEqual({ 'params.yaml': { layers: { a: 1 }, lr: 0.1 } });
    repo.write('params.yaml', 'lr: 0.1\nlayers: {a: 2}\n');
    expect((await lib.status()).stages.find((x) => x.name === 'train')!.reasons).toEqual([{ code: 'param_changed', file: 'params.yaml', key: 'layers', old: { a: 1 }, new: { a: 2 } }]);
    expect((await lib.repro()).code).toBe(0);
    expect(repo.takeRuns()).toEqual(['train']); // `other` tracks lr only
    repo.write('params.yaml', 'lr: 0.1\nlayers: {a: 2}\nseed: 7\n');
    expect((await lib.repro()).code).toBe(0);
    expect(repo.takeRuns()).toEqual(['train']);
    expect(await lib.check()).toBe(0);
  });
});

describe('repro: what a stage runs', () => {
  it('wdir and env are part of what a stage runs: a change makes it stale (cmd_changed); wdir: . is no wdir (issue 12.3)', async () => {
    const rc = (wdir: string, env: string) => `version: 1
stages:
  s:
    cmd: echo "$GREETING" > out.txt && echo s >> $DVCL_ROOT/runs.log
${wdir}    env: {GREETING: ${env}}
    outs: [a/out.txt, b/out.txt]
  each:
    foreach: in/*.txt
    out: o/\${name}
    env: {GREETING: ${env}}
    cmd: echo "$GREETING" > \${out} && echo \${item} >> runs.log
`;
    const repo = await pipelineRepo(rc('    wdir: a\n', 'hi'), { 'in/x.txt': 'x\n', 'a/.keep': '', 'b/.keep': '' });
    const lib = inProcess(repo);
    // Both outs are declared; the command writes the one in its wdir.
    repo.write('.pipelinerc', repo.read('.pipelinerc').replace('echo "$GREETING" > out.txt', 'echo "$GREETING" > out.txt && touch ../a/out.txt ../b/out.txt'));
    expect((await lib.repro()).code).toBe(0);
    expect(repo.takeRuns().sort()).toEqual(['in/x.txt', 's']);
    expect(parse(repo.lock()!).stages.s).toMatchObject({ wdir: 'a', env: { GREETING: 'hi' } });
    expect((await lib.status()).stages.every((st) => st.state === 'up_to_date')).toBe(true);

    repo.write('.pipelinerc', repo.read('.pipelinerc').replace(/GREETING: hi/g, 'GREETING: hello'));
    const st = await lib.status();
    expect(st.stages.find((x) => x.name === 's')!.reasons).toEqual([{ code: 'cmd_changed' }]);
    expect(st.stages.find((x) => x.name === 'each')!.state).toBe('stale');
    expect((await lib.repro()).code).toBe(0);
    expect(repo.takeRuns().sort()).toEqual(['in/x.txt', 's']);
    expect(repo.read('o/x.txt')).toBe('hello\n');

    repo.write('.pipelinerc', repo.read('.pipelinerc').replace('    wdir: a\n', '    wdir: b\n'));
    expect((await lib.status()).stages.find((x) => x.name === 's')!.reasons).toEqual([{ code: 'cmd_changed' }]);
    expect((await lib.repro()).code).toBe(0);
    repo.takeRuns();
    // No wdir and `wdir: .` are the same stage.
    repo.write('.pipelinerc', repo.read('.pipelinerc').replace('    wdir: b\n', '').replace('../a/out.txt ../b/out.txt', 'a/out.txt b/out.txt'));
    expect((await lib.repro()).code).toBe(0);
    repo.takeRuns();
    expect(parse(repo.lock()!).stages.s.wdir).toBeUndefined();
    repo.write('.pipelinerc', repo.read('.pipelinerc').replace('    env: {GREETING: hello}\n    outs', '    wdir: .\n    env: {GREETING: hello}\n    outs'));
    expect((await lib.status()).stages.find((x) => x.name === 's')!.state).toBe('up_to_date');
  });

  it('without -k a failure stops every stage not yet started; with -k independent stages still run', async () => {
    // jobs 1 so the order is fixed: `bad` heads the longest chain and goes first
    const repo = await pipelineRepo(`version: 1
stages:
  bad:
    cmd: echo bad >> runs.log && exit 1
    outs: [bad.txt]
  after:
    cmd: echo after >> runs.log && cp bad.txt after.txt
    deps: [bad.txt]
    outs: [after.txt]
  other:
    cmd: echo other >> runs.log && echo o > other.txt
    outs: [other.txt]
`);
    const lib = inProcess(repo);
    const stop = await lib.repro({ jobs: 1 });
    expect(stop.code).toBe(1);
    expect(stop.json.ok).toBe(false);
    expect(results(stop.json)).toEqual({ bad: 'failed', after: 'not_run', other: 'not_run' });
    expect(repo.takeRuns()).toEqual(['bad']);
    expect(repo.lock()).toBeNull();

    const going = await lib.repro({ jobs: 1, keepGoing: true });
    expect(going.code).toBe(1);
    expect(results(going.json)).toEqual({ bad: 'failed', after: 'not_run', other: 'ran' });
    expect(repo.takeRuns()).toEqual(['bad', 'other']);
    expect(Object.keys(parse(repo.lock()!).stages)).toEqual(['other']);
  });

  it('a directory out is removed before its stage runs: no stale file survives', async () => {
    const repo = await pipelineRepo(`version: 1
stages:
  split:
    cmd: mkdir -p parts && for n in $(cat list.txt); do echo $n > parts/$n.txt; done && echo split >> runs.log
    deps: [list.txt]
    outs: [parts]
`, { 'list.txt': 'x y z\n' });
    const lib = inProcess(repo);
    expect((await lib.repro()).code).toBe(0);
    expect(fs.readdirSync(path.join(repo.dir, 'parts')).sort()).toEqual(['x.txt', 'y.txt', 'z.txt']);
    expect(parse(repo.lock()!).stages.split.outs[0]).toMatchObject({ path: 'parts', nfiles: 3 });
    repo.write('list.txt', 'x\n');
    expect((await lib.repro()).code).toBe(0);
    expect(fs.readdirSync(path.join(repo.dir, 'parts'))).toEqual(['x.txt']);
    expect(parse(repo.lock()!).stages.split.outs[0]).toMatchObject({ path: 'parts', nfiles: 1 });
  });

  it('persist: true keeps outs in place while the command runs', async () => {
    const repo = await pipelineRepo(`version: 1
stages:
  grow:
    cmd: cat in.txt >> history.txt
    deps: [in.txt]
    outs: [history.txt]
    persist: true
`, { 'in.txt': 'a\n' });
    const lib = inProcess(repo);
    expect((await lib.repro()).code).toBe(0);
    repo.write('in.txt', 'b\n');
    expect((await lib.repro()).code).toBe(0);
    expect(repo.read('history.txt')).toBe('a\nb\n');
  });

  it('commands run through the shell in wdir with env, DVCL_ROOT and DVCL_STAGE; parent folders of outs are created', async () => {
    const repo = await pipelineRepo(`version: 1
stages:
  where:
    cmd: echo "$DVCL_STAGE $GREETING $(basename "$PWD") $DVCL_ROOT" > ../deep/er/where.txt
    wdir: sub
    env: {GREETING: hello}
    outs: [deep/er/where.txt]
`, { 'sub/.keep': '' });
    expect((await inProcess(repo).repro()).code).toBe(0);
    expect(repo.read('deep/er/where.txt')).toBe(`where hello sub ${repo.dir}\n`);
  });

  it('an always_changed stage runs every time; its downstream only when its outs change', async () => {
    const repo = await pipelineRepo(`version: 1
stages:
  fetch:
    cmd: cat source.txt > fetched.txt && echo fetch >> runs.log
    outs: [fetched.txt]
    always_changed: true
  use:
    cmd: cp fetched.txt used.txt && echo use >> runs.log
    deps: [fetched.txt]
    outs: [used.txt]
`, { 'source.txt': 'v1\n' });
    const lib = inProcess(repo);
    expect((await lib.repro()).code).toBe(0);
    expect(repo.takeRuns()).toEqual(['fetch', 'use']);
    expect((await lib.status()).stages[0].reasons).toEqual([{ code: 'always_changed' }]);
    expect(await lib.check()).toBe(1);
    expect((await lib.repro()).code).toBe(0);
    expect(repo.takeRuns()).toEqual(['fetch']);
    repo.write('source.txt', 'v2\n'); // not a dep: only the always-run stage sees it
    expect((await lib.repro()).code).toBe(0);
    expect(repo.takeRuns()).toEqual(['fetch', 'use']);
    expect(repo.read('used.txt')).toBe('v2\n');
  });
});

describe('repro: selection', () => {
  it('-f re-runs the target and its upstream; -f -s only the target', async () => {
    const { repo, lib } = await ranChain();
    const r = await lib.repro({ force: true, targets: ['B'] });
    expect(r.code).toBe(0);
    expect(results(r.json)).toEqual({ A: 'ran', B: 'ran' });
    expect(repo.takeRuns()).toEqual(['A', 'B']);
    expect((await lib.repro({ force: true, single: true, targets: ['B'] })).code).toBe(0);
    expect(repo.takeRuns()).toEqual(['B']);
    expect((await lib.repro()).code).toBe(0);
    expect(repo.takeRuns()).toEqual([]);
  });

  it('a target brings only its upstream up to date; --downstream runs the target and what follows, not its upstream', async () => {
    const { repo, lib } = await ranChain();
    repo.write('in.txt', 'ONE\n');
    expect((await lib.repro({ targets: ['A'] })).code).toBe(0);
    expect(repo.takeRuns()).toEqual(['A']);

    repo.write('in.txt', 'uno\n'); // A is stale again, but not selected
    repo.write('.pipelinerc', A_B_C.replace('cp a.txt b.txt', 'cp a.txt b.txt && echo more >> b.txt'));
    const r = await lib.repro({ downstream: true, targets: ['B'] });
    expect(r.code).toBe(0);
    expect(results(r.json)).toEqual({ B: 'ran', C: 'ran' });
    expect(repo.takeRuns()).toEqual(['B', 'C']);
    expect(repo.read('c.txt')).toBe('ONE\nmore\n');
    expect((await lib.status()).stages.map((s) => s.state)).toEqual(['stale', 'stale', 'stale']);
  });
});
