import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dvcl, json } from './helpers/cli.js';
import { cleanupRepos, pipelineRepo, type ReproJson, type StatusJson } from './helpers/pipeline.js';
import type { DagJson } from '../src/cli/render-dag.js';

afterEach(cleanupRepos);

// prep → train-a, train-b; other stands alone.
const RC = `version: 1
stages:
  prep:
    cmd: mkdir -p data && cp in.txt data/a.txt && cp in.txt data/b.txt && echo prep >> runs.log
    deps: [in.txt]
    outs: [data]
  train-a:
    cmd: cp data/a.txt a.model && echo train-a >> runs.log
    deps: [data/a.txt]
    outs: [a.model]
  train-b:
    cmd: cp data/b.txt b.model && echo train-b >> runs.log
    deps: [data/b.txt]
    outs: [b.model]
  other:
    cmd: cp other.txt other.out && echo other >> runs.log
    deps: [other.txt]
    outs: [other.out]
`;

const project = () => pipelineRepo(RC, { 'in.txt': 'in\n', 'other.txt': 'other\n' });
const names = (r: { stages: { name: string }[] }) => r.stages.map((s) => s.name);

describe('stage addressing', () => {
  it('an out path names its stage: repro runs it and its upstream; a file in a folder out, from a subfolder', async () => {
    const repo = await project();
    const r = repo.run('repro', 'b.model');
    expect(r.code, r.stderr).toBe(0);
    expect(repo.takeRuns()).toEqual(['prep', 'train-b']);
    expect(names(repo.status('data/a.txt'))).toEqual(['prep']);
    const sub = dvcl(path.join(repo.dir, 'data'), ['status', '--json', 'a.txt']);
    expect(sub.code, sub.stderr).toBe(0);
    expect(names(json<StatusJson>(sub))).toEqual(['prep']);
  });

  it('--glob: patterns over stage names, on repro and status', async () => {
    const repo = await project();
    expect(names(repo.status('--glob', 'train-*'))).toEqual(['prep', 'train-a', 'train-b']);
    const r = repo.run('repro', '--glob', 'train-*', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(repo.takeRuns().sort()).toEqual(['prep', 'train-a', 'train-b']);
  });

  it('repro --pipeline runs the whole connected pipeline, siblings included, nothing else', async () => {
    const repo = await project();
    const r = repo.run('repro', 'train-a', '--pipeline', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(names(json<ReproJson>(r)).sort()).toEqual(['prep', 'train-a', 'train-b']);
    expect(repo.takeRuns().sort()).toEqual(['prep', 'train-a', 'train-b']);
  });

  it('dag STAGE: only its upstream and downstream, in every output form', async () => {
    const repo = await project();
    const j = repo.run('dag', 'a.model', '--json');
    expect(j.code, j.stderr).toBe(0);
    const d = json<DagJson>(j);
    expect(d.nodes.map((n) => n.name)).toEqual(['prep', 'train-a']);
    expect(d.edges).toEqual([{ from: 'prep', to: 'train-a', dep: 'data/a.txt', out: 'data' }]);
    expect(repo.run('dag', 'prep', '--mermaid').stdout).toBe('flowchart TD\n  s0["prep"]\n  s1["train-a"]\n  s2["train-b"]\n  s0 --> s1\n  s0 --> s2\n');
    expect(repo.run('dag', 'other', '--dot').stdout).not.toMatch(/prep/);
    expect(repo.run('dag', 'train-b').stdout).not.toMatch(/train-a|other/);
  });

  it('refuses an unknown path or a glob matching nothing: exit 2, one clear message, nothing run', async () => {
    const repo = await project();
    const p = repo.run('repro', 'c.model');
    expect(p.code).toBe(2);
    expect(p.stderr).toMatch(/unknown stage "c\.model": no stage has that name, and no stage's outs hold that path/);
    expect(p.stderr).toMatch(/did you mean "a\.model"\?/);
    const g = repo.run('status', '--glob', 'test-*');
    expect(g.code).toBe(2);
    expect(g.stderr).toMatch(/no stage matches the pattern "test-\*"/);
    const n = repo.run('dag', 'trian-a', '--json');
    expect(n.code).toBe(2);
    expect(repo.takeRuns()).toEqual([]);
  });
});
