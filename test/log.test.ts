import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dvcl, json, type CliResult } from './helpers/cli.js';
import { cleanupRepos, pipelineRepo, type PipelineRepo } from './helpers/pipeline.js';
import { changedStages, diffEntry, parseLogOutput, splitStages } from '../src/core/services/log.js';
import { serializeLock, type LockData, type LockEntry } from '../src/core/ledger/lock.js';

// `dvcl log`: the history of stages from the committed versions of pipeline.lock.

afterEach(cleanupRepos);

const RC = `version: 1
stages:
  train:
    cmd: cat data.txt params.yaml > model.txt
    deps: [data.txt]
    params: [lr]
    outs: [model.txt]
  evaluate:
    cmd: wc -l model.txt > metrics.txt
    deps: [model.txt]
    outs: [metrics.txt]
`;

function ok(r: CliResult): CliResult {
  expect(r.code, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
  return r;
}

/** Three runs, each committed, and a commit that does not touch the lock. */
async function history(): Promise<{ repo: PipelineRepo; sha: Record<string, string> }> {
  const repo = await pipelineRepo(RC, { 'data.txt': 'one\n', 'params.yaml': 'lr: 0.1\n' });
  const sha: Record<string, string> = { initial: repo.git('rev-parse', 'HEAD') };
  const step = (subject: string, change: () => void) => {
    change();
    ok(repo.run('repro'));
    repo.commitAll(subject);
    sha[subject] = repo.git('rev-parse', 'HEAD');
  };
  step('first run', () => undefined);
  step('lr 0.2', () => repo.write('params.yaml', 'lr: 0.2\n'));
  step('more data', () => repo.write('data.txt', 'one\ntwo\n'));
  repo.write('README.md', 'docs\n');
  repo.commitAll('docs only');
  return { repo, sha };
}

describe('dvcl log', () => {
  it('lists the commits that changed stage entries, newest first, with what changed', async () => {
    const { repo, sha } = await history();
    const r = json(ok(repo.run('log', '--json')));
    expect(r.commits.map((c: any) => c.subject)).toEqual(['more data', 'lr 0.2', 'first run']);
    const [data, lr, first] = r.commits;
    expect(first.commit).toBe(sha['first run']);
    expect(first.author).toBe('Test User <test@example.org>');
    expect(first.date).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(first.stages.map((s: any) => [s.name, s.change])).toEqual([['evaluate', 'added'], ['train', 'added']]);

    const train = lr.stages.find((s: any) => s.name === 'train');
    expect(train.change).toBe('modified');
    expect(train.git.commit).toBe(sha['first run']); // the run happened with HEAD at the previous commit
    expect(train.run).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    expect(train.changes).toEqual([
      { code: 'param_changed', file: 'params.yaml', key: 'lr', old: 0.1, new: 0.2 },
      { code: 'out_changed', path: 'model.txt', old: expect.stringMatching(/^xxh128:/), new: expect.stringMatching(/^xxh128:/) },
    ]);
    expect(data.stages.find((s: any) => s.name === 'train').changes.map((c: any) => c.code)).toEqual(['dep_changed', 'out_changed']);
    // Newest first by run time, too (run ids start with it, to the second).
    const times = r.commits.map((c: any) => c.stages.find((s: any) => s.name === 'train').run.slice(0, 16));
    expect([...times].sort().reverse()).toEqual(times);
    expect(new Set(r.commits.map((c: any) => c.stages.find((s: any) => s.name === 'train').run)).size).toBe(3);
  });

  it('with STAGE, only the commits that changed it; -n limits the count', async () => {
    const { repo, sha } = await history();
    const one = json(ok(repo.run('log', 'train', '-n', '1', '--json')));
    expect(one.commits.map((c: any) => c.commit)).toEqual([sha['more data']]);
    expect(one.commits[0].stages.map((s: any) => s.name)).toEqual(['train']);

    const text = ok(repo.run('log', 'evaluate')).stdout;
    const shown = [...text.matchAll(/^commit ([0-9a-f]{40})$/gm)].map((m) => m[1]);
    expect(shown).toEqual([sha['more data'], sha['lr 0.2'], sha['first run']]);
    expect(text).toMatch(/evaluate: changed, run \S+ \(at [0-9a-f]{10} on main, with uncommitted changes\)/);
    expect(text).toMatch(/dep model\.txt xxh128:[0-9a-f]{8}… → xxh128:[0-9a-f]{8}…/);

    expect(ok(repo.run('log', 'nope')).stdout).toMatch(/No commit changed the lock entry of stage nope/);
  });

  it('shows a merge only for entries that differ from every parent', async () => {
    const { repo, sha } = await history();
    repo.git('checkout', '-q', '-b', 'feature');
    repo.write('data.txt', 'feature\n');
    ok(repo.run('repro'));
    repo.commitAll('feature data');
    repo.git('checkout', '-q', 'main');
    repo.write('README.md', 'more docs\n');
    repo.commitAll('main docs');
    repo.git('merge', '-q', '--no-edit', 'feature');
    const r = json(ok(repo.run('log', '--json')));
    expect(r.commits.map((c: any) => c.subject)).toEqual(['feature data', 'more data', 'lr 0.2', 'first run']);
    expect(r.commits[1].commit).toBe(sha['more data']);
  });

  it('outside a git repository: a clear error, exit 2', () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-nogit-')));
    try {
      fs.writeFileSync(path.join(dir, '.pipelinerc'), RC);
      const r = dvcl(dir, ['log']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/dvcl log reads the history of pipeline\.lock from git, and .* is not in a git repository/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('history internals', () => {
  const e = (run: string, extra: Partial<LockEntry> = {}): LockEntry => ({
    cmd: 'x', deps: [{ path: 'd', hash: 'h1', size: 1 }], params: {}, outs: [], git: { commit: 'c', branch: 'main', dirty: false }, run, ...extra,
  });
  const lock = (stages: Record<string, LockEntry>): LockData => ({ schema: 1, stages });

  it('a re-run with identical inputs and outputs is a rerun; removed entries are named', () => {
    expect(diffEntry('s', e('r1'), e('r2'))).toMatchObject({ change: 'rerun', changes: [], run: 'r2' });
    expect(diffEntry('s', e('r1'), undefined)).toMatchObject({ change: 'removed', run: 'r1' });
    expect(diffEntry('s', e('r1'), e('r1'))).toBeNull();
    expect(diffEntry('s', e('r1'), e('r2', { cmd: ['x', 'y'], deps: [] }))!.changes).toEqual([
      { code: 'cmd_changed', old: 'x', new: ['x', 'y'] },
      { code: 'dep_changed', path: 'd', old: 'h1', new: null },
    ]);
  });

  it('a merge shows only entries equal to no parent', () => {
    const p1 = lock({ a: e('r1'), b: e('r0') });
    const p2 = lock({ a: e('r0'), b: e('r2') });
    expect(changedStages([p1, p2], lock({ a: e('r1'), b: e('r2') }))).toEqual([]);
    expect(changedStages([p1, p2], lock({ a: e('r1'), b: e('r3') })).map((s) => s.name)).toEqual(['b']);
  });

  it('splits a canonical lock into stage texts, and gives up on any other layout', () => {
    const text = serializeLock(lock({ b: e('r1', { cmd: 'multi\nline' }), a: e('r2') }));
    const v = splitStages(text)!;
    expect([...v.keys()]).toEqual(['a', 'b']);
    expect(v.get('a')).toMatch(/^ {2}a:\n {4}cmd: x\n/);
    expect(splitStages('schema: 1\nstages: {}\n')!.size).toBe(0);
    expect(splitStages('schema: 1\nstages: {a: {cmd: x}}\n')).toBeNull();
    expect(splitStages(`<<<<<<< HEAD\n${text}=======\n${text}>>>>>>> x\n`)).toBeNull();
    expect(splitStages(text.replace('  b:\n', '<<<<<<< HEAD\n  b:\n'))).toBeNull();
  });

  it('parses git log records with and without a raw line', () => {
    const out = `\x1eaaa\0ppp\0A <a@x>\x002026-01-01T00:00:00Z\0subject one\n\n:100644 100644 ${'1'.repeat(40)} ${'2'.repeat(40)} M\tsub/pipeline.lock\n`
      + '\x1ebbb\0p1 p2\0B <b@x>\x002026-01-02T00:00:00Z\0Merge branch x\n';
    expect(parseLogOutput(out, 'sub/pipeline.lock')).toEqual([
      { commit: 'aaa', parents: ['ppp'], author: 'A <a@x>', date: '2026-01-01T00:00:00Z', subject: 'subject one', old: ['1'.repeat(40)], new: '2'.repeat(40) },
      { commit: 'bbb', parents: ['p1', 'p2'], author: 'B <b@x>', date: '2026-01-02T00:00:00Z', subject: 'Merge branch x', old: ['p1:sub/pipeline.lock', 'p2:sub/pipeline.lock'], new: 'bbb:sub/pipeline.lock' },
    ]);
  });
});
