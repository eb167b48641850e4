import { afterEach, describe, expect, it } from 'vitest';
import { json } from './helpers/cli.js';
import { cleanupRepos, pipelineRepo, type PipelineRepo, type ReproJson } from './helpers/pipeline.js';

afterEach(cleanupRepos);

// Params are compared exactly (issue 12.8): JSON.stringify saw null and .nan as one value, and a
// double saw 9007199254740993 and 9007199254740992 as one.

const rc = (params: string) => `version: 1
stages:
  fit:
    cmd: echo fit >> runs.log && echo done > fit.txt
    params: ${params}
    outs: [fit.txt]
`;

/** The single reason `fit` is stale for, as status --json prints it (raw, for exact numbers). */
function staleFor(repo: PipelineRepo): { parsed: unknown; raw: string } {
  const r = repo.run('status', '--json');
  expect(r.code, r.stderr).toBe(0);
  const st = json(r);
  expect(st.stages[0].state).toBe('stale');
  expect(st.stages[0].reasons).toHaveLength(1);
  return { parsed: st.stages[0].reasons[0], raw: r.stdout };
}

function repro(repo: PipelineRepo): string[] {
  const r = repo.run('repro', '--json');
  expect(r.code, r.stderr).toBe(0);
  expect(json<ReproJson>(r).ok).toBe(true);
  return repo.takeRuns();
}

describe('params compared exactly', () => {
  it('sees null → .nan as a change, and .nan → .nan as none', async () => {
    const repo = await pipelineRepo(rc('[lr]'), { 'params.yaml': 'lr: null\n' });
    expect(repro(repo)).toEqual(['fit']);
    repo.write('params.yaml', 'lr: .nan\n');
    expect(staleFor(repo).parsed).toEqual({ code: 'param_changed', file: 'params.yaml', key: 'lr', old: null, new: '.nan' });
    expect(repo.run('status').stdout).toContain('param lr changed (none → .nan)');
    expect(repro(repo)).toEqual(['fit']);
    expect(repo.lock()).toContain('lr: .nan\n');
    expect(repo.status().up_to_date).toBe(true);
    repo.write('params.yaml', 'lr: .NaN # same value, other spelling\n');
    expect(repo.status().up_to_date).toBe(true);
    expect(repro(repo)).toEqual([]);
  });

  it('sees .inf → -.inf as a change', async () => {
    const repo = await pipelineRepo(rc('[limit]'), { 'params.yaml': 'limit: .inf\n' });
    expect(repro(repo)).toEqual(['fit']);
    expect(repo.lock()).toContain('limit: .inf\n');
    expect(repo.status().up_to_date).toBe(true);
    repo.write('params.yaml', 'limit: -.inf\n');
    expect(staleFor(repo).parsed).toEqual({ code: 'param_changed', file: 'params.yaml', key: 'limit', old: '.inf', new: '-.inf' });
    expect(repro(repo)).toEqual(['fit']);
    expect(repo.lock()).toContain('limit: -.inf\n');
  });

  for (const [file, before, after] of [
    ['params.yaml', 'seed: 9007199254740993\n', 'seed: 9007199254740992\n'],
    ['params.json', '{"seed": 9007199254740993}\n', '{"seed": 9007199254740992}\n'],
  ]) {
    it(`records a big integer of ${file} exactly, and sees a change to the next one down`, async () => {
      const repo = await pipelineRepo(rc(`[{${file}: [seed]}]`), { [file]: before });
      expect(repro(repo)).toEqual(['fit']);
      expect(repo.lock()).toContain('seed: 9007199254740993\n');
      expect(repo.status().up_to_date).toBe(true);
      repo.commitAll('seed 3');
      repo.write(file, after);
      const { parsed, raw } = staleFor(repo);
      expect(parsed).toMatchObject({ code: 'param_changed', file, key: 'seed' });
      expect(raw).toContain('"old": 9007199254740993,'); // a JSON number, all its digits
      expect(raw).toContain('"new": 9007199254740992\n');
      expect(repo.run('status').stdout).toContain('param seed changed (9007199254740993 → 9007199254740992)');
      expect(repro(repo)).toEqual(['fit']);
      expect(repo.lock()).toContain('seed: 9007199254740992\n');
      repo.commitAll('seed 2');
      expect(repo.run('log').stdout).toContain(`param ${file}:seed 9007199254740993 → 9007199254740992`);
    });
  }

  it('re-runs the items of a per-item stage when a param goes from null to .nan', async () => {
    const repo = await pipelineRepo(`version: 1
stages:
  each:
    foreach: in/*.txt
    out: out/\${stem}.txt
    cmd: cp \${item} \${out} && echo \${item} >> runs.log
    params: [x]
`, { 'params.yaml': 'x: null\n', 'in/a.txt': 'a\n', 'in/b.txt': 'b\n' });
    expect(repro(repo).sort()).toEqual(['in/a.txt', 'in/b.txt']);
    repo.write('params.yaml', 'x: .nan\n');
    expect(repo.status().stages[0].reasons).toEqual([
      { code: 'param_changed', file: 'params.yaml', key: 'x', old: null, new: '.nan' },
      { code: 'items_pending', count: 2 },
    ]);
    expect(repro(repo).sort()).toEqual(['in/a.txt', 'in/b.txt']);
    expect(repro(repo)).toEqual([]);
  });
});

describe('ordinary params, as an earlier dvcl recorded them', () => {
  const RC = `version: 1
stages:
  fit:
    cmd: cat in.txt > fit.txt
    deps: [in.txt]
    params: [{params.yaml: null}, {cfg.json: [alpha, nested.n]}]
    outs: [fit.txt]
  each:
    foreach: items/*.txt
    out: done/\${stem}.txt
    cmd: cp \${item} \${out}
    params: [train.lr, seed, train.layers, {cfg.json: [alpha, nested]}]
`;
  const FILES = {
    'params.yaml': `seed: 42
train:
  lr: 0.001
  epochs: 10
  huge: 1e21
  safe: 9007199254740991
  neg: -3
  name: "résumé \\"q\\""
  flags: [true, false, null, 1.5]
  layers: {"2": 64, "10": 32, b: 1}
  empty: {}
`,
    'cfg.json': '{"alpha": 0.5, "nested": {"n": 3, "list": [1, 2.25, "x"]}}\n',
    'in.txt': 'hi\n', 'items/a.txt': 'a\n', 'items/b.txt': 'b\n',
  };
  /** pipeline.lock as dvcl wrote it for this project before params were compared exactly. */
  const OLD_LOCK = `schema: 1
stages:
  each:
    cmd: cp \${item} \${out}
    out: done/\${stem}.txt
    deps: []
    params:
      cfg.json:
        alpha: 0.5
        nested:
          list:
            - 1
            - 2.25
            - x
          n: 3
      params.yaml:
        seed: 42
        train.layers:
          "2": 64
          "10": 32
          b: 1
        train.lr: 0.001
    outs: []
    items:
      count: 2
      hash: xxh128:6b37759e3d91ef95284915e60c46bc27
    git: { commit: 0dbae18a02f7f46883a03f51164af9167d7152fc, branch: main, dirty: false }
    run: 20261202T031322Z-0730cf
  fit:
    cmd: cat in.txt > fit.txt
    deps:
      - path: in.txt
        hash: xxh128:f4d0497cf9394caab34d1a3ab2bece70
        size: 3
    params:
      cfg.json:
        alpha: 0.5
        nested.n: 3
      params.yaml:
        seed: 42
        train:
          empty: {}
          epochs: 10
          flags:
            - true
            - false
            - null
            - 1.5
          huge: 1e+21
          layers:
            "2": 64
            "10": 32
            b: 1
          lr: 0.001
          name: résumé "q"
          neg: -3
          safe: 9007199254740991
    outs:
      - path: fit.txt
        hash: xxh128:f4d0497cf9394caab34d1a3ab2bece70
        size: 3
    git: { commit: 0dbae18a02f7f46883a03f51164af9167d7152fc, branch: main, dirty: false }
    run: 20261202T031322Z-0730cf
`;
  /** The items' stage hash in .manifest.json, likewise: a new one would re-run every item. */
  const OLD_STAGE_HASH = 'xxh128:3a74882d1a7c1f841868b0765c952a23';
  const withoutRun = (lock: string) => lock.replace(/^ *(git|run): .*\n/gm, '');

  it('still reads as up to date', async () => {
    const repo = await pipelineRepo(RC, { ...FILES, 'fit.txt': 'hi\n', 'pipeline.lock': OLD_LOCK });
    const fit = repo.status('fit').stages.find((s) => s.name === 'fit');
    expect(fit).toEqual({ name: 'fit', state: 'up_to_date', reasons: [] });
  });

  it('are recorded with the same lock text and the same per-item stage hash', async () => {
    const repo = await pipelineRepo(RC, FILES);
    expect(repo.run('repro').code).toBe(0);
    expect(withoutRun(repo.lock()!)).toBe(withoutRun(OLD_LOCK));
    const items = JSON.parse(repo.manifest()!).stages.each.items;
    expect(Object.values(items).map((i: any) => i.stage_hash)).toEqual([OLD_STAGE_HASH, OLD_STAGE_HASH]);
  });
});
