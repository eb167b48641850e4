import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { translateDvc, type Translation } from '../src/core/migrate/dvc.js';
import { YamlSource } from '../src/core/config/yaml-source.js';
import { loadConfig } from '../src/core/config/load.js';
import { importDvc } from '../src/core/services/import.js';
import { DvclError } from '../src/core/errors.js';

// The translator of `dvcl import`, in-process: one case per dvc.yaml construct. Every generated
// .pipelinerc is loaded with dvcl's own loader, so the test fails on anything dvcl would refuse.

const dirs: string[] = [];
afterEach(() => { while (dirs.length) fs.rmSync(dirs.pop()!, { recursive: true, force: true }); });

function tmp(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-import-'));
  dirs.push(dir);
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

/** Translate `dvcYaml` with `files` beside it, and load the result as dvcl would. */
function translate(dvcYaml: string, files: Record<string, string> = {}): Translation & { rc: any; cfg: ReturnType<typeof loadConfig> } {
  const t = translateDvc({
    src: YamlSource.parse('dvc.yaml', dvcYaml),
    base: '.',
    readFile: (rel) => (rel in files ? (/\.toml$/.test(rel) ? { unsupported: 'TOML' } : { data: parse(files[rel]) }) : { missing: true }),
  });
  const dir = tmp({ ...files, '.pipelinerc': t.text });
  return { ...t, rc: parse(t.text), cfg: loadConfig({ cwd: dir, root: dir }) };
}

const stage = (t: { rc: any }, name: string) => t.rc.stages[name];

describe('dvcl import: stages', () => {
  it('translates cmd, deps, outs, params, desc, frozen and always_changed as they are', () => {
    const t = translate(`stages:
  prepare:
    desc: Split the data
    cmd: python prepare.py
    deps: [data.xml, prepare.py]
    params: [prepare.seed, prepare.split]
    outs: [data/prepared]
    frozen: true
  fetch:
    cmd: [curl -o raw.csv https://example.org/x, echo done]
    outs: [raw.csv]
    always_changed: true
`, { 'params.yaml': 'prepare:\n  seed: 1\n  split: 0.2\n' });
    expect(stage(t, 'prepare')).toEqual({
      desc: 'Split the data', cmd: 'python prepare.py', deps: ['data.xml', 'prepare.py'],
      params: ['prepare.seed', 'prepare.split'], outs: ['data/prepared'], frozen: true,
    });
    expect(stage(t, 'fetch')).toEqual({ cmd: ['curl -o raw.csv https://example.org/x', 'echo done'], outs: ['raw.csv'], always_changed: true });
    expect(t.dropped).toEqual([]);
    expect(t.cfg.params['params.yaml']).toEqual({ 'prepare.seed': 1, 'prepare.split': 0.2 });
    expect(t.text).toMatch(/# from dvc\.yaml:2\n {2}prepare:/);
  });

  it('tracks other params files, whole-file params, and rebases paths onto wdir', () => {
    const t = translate(`stages:
  train:
    wdir: model
    cmd: python train.py
    deps: [../data/features, train.py]
    params:
      - lr
      - config/train.json: [epochs]
      - ../shared.yaml:
    outs: [model.pkl]
`, { 'model/params.yaml': 'lr: 0.1\n', 'model/config/train.json': '{"epochs": 3}', 'shared.yaml': 'a: 1\nb: 2\n' });
    expect(stage(t, 'train')).toEqual({
      cmd: 'python train.py', wdir: 'model', deps: ['data/features', 'model/train.py'],
      params: [{ 'model/params.yaml': ['lr'] }, { 'model/config/train.json': ['epochs'] }, { 'shared.yaml': null }],
      outs: ['model/model.pkl'],
    });
    expect(t.cfg.params['shared.yaml']).toEqual({ a: 1, b: 2 });
    expect(t.cfg.params['model/config/train.json']).toEqual({ epochs: 3 });
  });

  it('makes metrics and plots files outs; cache: false and persist map, cached outs are named for dvcl push', () => {
    const t = translate(`stages:
  evaluate:
    cmd: python evaluate.py
    deps: [model.pkl]
    outs:
      - eval/importance.png
      - state.db:
          persist: true
          cache: true
    metrics:
      - eval/metrics.json:
          cache: false
    plots:
      - eval/prc.json:
          cache: false
          x: recall
          y: precision
`);
    expect(stage(t, 'evaluate').outs).toEqual(['eval/importance.png', 'state.db', 'eval/metrics.json', 'eval/prc.json']);
    expect(stage(t, 'evaluate').persist).toBe(true);
    expect(t.cachedOuts).toEqual(['eval/importance.png', 'state.db']);
    expect(t.hints.join('\n')).toMatch(/DVC kept these outs in its cache: eval\/importance\.png, state\.db;.*`dvcl push`/);
    expect(t.hints.join('\n')).toMatch(/did not cache \(`cache: false`, committed to git\): eval\/metrics\.json, eval\/prc\.json/);
    expect(t.dropped.map((d) => [d.line, d.key])).toEqual([
      [8, 'stages.evaluate.outs[1].state.db.persist'],   // persist is per stage in dvcl
      [16, 'stages.evaluate.plots[0].eval/prc.json.x'], // plot properties
    ]);
    expect(t.dropped[0].instead).toMatch(/per stage: eval\/importance\.png, eval\/metrics\.json, eval\/prc\.json now survive a run/);
  });

  it('lists what it cannot translate, by line and column, with what to do instead', () => {
    const t = translate(`stages:
  train:
    cmd: python train.py
    deps:
      - s3://bucket/raw.csv
      - train.py
    params:
      - hp.toml: [lr]
    outs:
      - ckpt:
          checkpoint: true
      - model.pkl:
          push: false
          remote: gpu-store
          desc: the model
    meta: {owner: ana}
metrics: [metrics.json]
artifacts:
  model: {path: model.pkl, type: model}
`, { 'hp.toml': 'lr = 1' });
    const listed = t.dropped.map((d) => `${d.line}:${d.col} ${d.key}: ${d.message}`);
    expect(listed).toEqual([
      '5:9 stages.train.deps[0]: external dependency s3://bucket/raw.csv',
      '8:9 stages.train.params[0].hp.toml: params file hp.toml (dvcl reads YAML and JSON params files)',
      '11:11 stages.train.outs[0].ckpt.checkpoint: `checkpoint: true` of ckpt',
      '13:11 stages.train.outs[1].model.pkl.push: `push: false` of model.pkl',
      '14:11 stages.train.outs[1].model.pkl.remote: `remote: gpu-store` of model.pkl',
      '15:11 stages.train.outs[1].model.pkl.desc: `desc` of model.pkl',
      '16:5 stages.train.meta: `meta`',
      '17:1 metrics: the `metrics` section',
      '18:1 artifacts: the `artifacts` section',
    ]);
    for (const d of t.dropped) expect(d.instead.length).toBeGreaterThan(20);
    expect(stage(t, 'train')).toEqual({ cmd: 'python train.py', deps: ['train.py'], outs: ['ckpt', 'model.pkl'] });
    // The .pipelinerc itself says what was left out.
    expect(t.text).toContain('#   dvc.yaml:11:11: `checkpoint: true` of ckpt');
  });
});

describe('dvcl import: foreach, matrix, vars and ${…}', () => {
  it('expands foreach over a list of values (DVC docs: cleanups@raw1 …)', () => {
    const t = translate(`stages:
  cleanups:
    foreach:
      - raw1
      - labels1
    do:
      cmd: clean.py "\${item}"
      outs:
        - \${item}.cln
`);
    expect(t.stages.map((s) => [s.from, s.name])).toEqual([['cleanups@raw1', 'cleanups-raw1'], ['cleanups@labels1', 'cleanups-labels1']]);
    expect(stage(t, 'cleanups-labels1')).toEqual({ cmd: 'clean.py "labels1"', outs: ['labels1.cln'] });
    expect(t.hints.join('\n')).toContain('cleanups@raw1 → cleanups-raw1');
    expect(t.dropped).toEqual([]);
  });

  it('expands foreach over a mapping from inline vars, with ${key} and ${item.x} (DVC docs: train@us …)', () => {
    const t = translate(`vars:
  - models:
      us: {epochs: 10, thresh: 15}
      gb: {epochs: 8, thresh: 12}
stages:
  train:
    foreach: \${models}
    do:
      cmd: python train.py \${key} \${item.epochs} \${item.thresh}
      outs:
        - model-\${key}.hdf5
`);
    expect(t.rc.stages).toEqual({
      'train-us': { cmd: 'python train.py us 10 15', outs: ['model-us.hdf5'] },
      'train-gb': { cmd: 'python train.py gb 8 12', outs: ['model-gb.hdf5'] },
    });
    expect(t.dropped).toEqual([]); // inline vars are dvc.yaml's own constants: nothing lost
  });

  it('expands foreach over a list of mappings by index', () => {
    const t = translate(`stages:
  train:
    foreach:
      - {epochs: 3, thresh: 10}
      - {epochs: 10, thresh: 15}
    do:
      cmd: python train.py \${item.epochs} \${item.thresh}
      outs:
        - model-\${item.epochs}.pkl
`);
    expect(t.stages.map((s) => s.name)).toEqual(['train-0', 'train-1']);
    expect(stage(t, 'train-1').cmd).toBe('python train.py 10 15');
  });

  it('expands a matrix, naming stages as DVC does (train@cnn-feature1)', () => {
    const t = translate(`stages:
  train:
    matrix:
      model: [cnn, xgb]
      feature: [feature1, feature2]
    cmd: ./train.py --feature \${item.feature} \${item.model}
    outs:
      - \${item.model}-\${item.feature}.pkl
`);
    expect(t.stages.map((s) => s.from)).toEqual(['train@cnn-feature1', 'train@cnn-feature2', 'train@xgb-feature1', 'train@xgb-feature2']);
    expect(stage(t, 'train-xgb-feature2')).toEqual({ cmd: './train.py --feature feature2 xgb', outs: ['xgb-feature2.pkl'] });
  });

  it('resolves vars files and stage vars; a value taken from a params file is listed (dvcl substitutes no parameters)', () => {
    const t = translate(`vars:
  - custom.yaml
  - desc: Reusable description
stages:
  build:
    desc: \${desc}
    vars:
      - out_dir: build
    cmd: python script.py --threshold \${models.us.threshold} --lr \${train.lr}
    outs:
      - \${out_dir}/result.txt
`, { 'custom.yaml': 'models:\n  us:\n    threshold: 10\n', 'params.yaml': 'train:\n  lr: 0.01\n' });
    expect(stage(t, 'build')).toEqual({ desc: 'Reusable description', cmd: 'python script.py --threshold 10 --lr 0.01', outs: ['build/result.txt'] });
    expect(t.dropped.map((d) => `${d.line} ${d.message}`)).toEqual([
      '9 ${models.us.threshold}, replaced by its value in custom.yaml:models.us.threshold (now "10")',
      '9 ${train.lr}, replaced by its value in params.yaml:train.lr (now "0.01")',
    ]);
    expect(t.dropped[1].instead).toMatch(/substitutes no parameters into commands.*list train\.lr under `params:`/);
  });

  it('unpacks a mapping in a command into --key value flags, as DVC does', () => {
    const t = translate(`vars:
  - opts: {epochs: 3, verbose: true, quiet: false, name: a b, layers: [1, 2]}
stages:
  train:
    cmd: python train.py \${opts}
`);
    expect(stage(t, 'train').cmd).toBe("python train.py --epochs 3 --verbose --name 'a b' --layers 1 2");
  });

  it('keeps an escaped \\${name} for the shell in a form dvcl accepts', () => {
    const t = translate(`stages:
  s:
    cmd: echo \\\${home}/x \\\${HOME}
`);
    expect(stage(t, 's').cmd).toBe('echo ${home-}/x ${HOME}');
  });
});

describe('dvcl import: foreach over a params file', () => {
  it('writes one stage per entry as it is now, and lists that a later change does not reach the pipeline', () => {
    const t = translate(`stages:
  train:
    foreach: \${models}
    do:
      cmd: python train.py \${item}
      outs:
        - \${item}.pkl
`, { 'params.yaml': 'models: [cnn, xgb]\n' });
    expect(t.stages.map((s) => s.name)).toEqual(['train-cnn', 'train-xgb']);
    expect(t.dropped.map((d) => `${d.line}:${d.col} ${d.message}`)).toEqual(['3:14 ${models}, replaced by its value in params.yaml:models (now 2 entries)']);
    expect(t.dropped[0].instead).toMatch(/run `dvcl import` again after changing it/);
  });
});

describe('dvcl import: bad input', () => {
  const fails = (text: string): DvclError => {
    try {
      translate(text);
    } catch (e) {
      expect(e).toBeInstanceOf(DvclError);
      return e as DvclError;
    }
    throw new Error('expected an error');
  };

  it('reports malformed YAML as file:line:col, like .pipelinerc errors (exit 2)', () => {
    const e = fails('stages:\n  train:\n    cmd: python train.py\n   deps: [a]\n');
    expect(e.message).toMatch(/^dvc\.yaml:4:4: invalid YAML: /);
    expect(e.exit).toBe(2);
  });

  it('reports a stage without cmd and an undefined ${…} at their place', () => {
    expect(fails('stages:\n  train:\n    deps: [a]\n').message).toBe('dvc.yaml:2:3: stages.train: missing `cmd`');
    expect(fails('stages:\n  train:\n    cmd: run ${nope.x}\n').message).toBe('dvc.yaml:3:10: stages.train.cmd: ${nope.x} is not defined');
    expect(fails('stages:\n  t:\n    foreach: 3\n    do: {cmd: x}\n').message).toBe('dvc.yaml:3:14: stages.t.foreach: must be a list or a mapping, not number 3');
  });
});

describe('dvcl import: the service', () => {
  it('writes .pipelinerc beside dvc.yaml, never over one without force; --dry-run writes nothing', () => {
    const dir = tmp({ 'dvc.yaml': 'stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n' });
    const dry = importDvc({ cwd: dir, dryRun: true });
    expect(dry.written).toBe(false);
    expect(fs.existsSync(path.join(dir, '.pipelinerc'))).toBe(false);
    const r = importDvc({ cwd: dir });
    expect(r).toMatchObject({ source: 'dvc.yaml', out: '.pipelinerc', written: true, dropped: [] });
    expect(fs.readFileSync(path.join(dir, '.pipelinerc'), 'utf8')).toBe(dry.text);
    expect(() => importDvc({ cwd: dir })).toThrow(/\.pipelinerc already exists/);
    expect(importDvc({ cwd: dir, force: true }).written).toBe(true);
  });

  it('imports from a dvc.lock (its dvc.yaml), says recorded runs are not carried over, and rebases a sub-folder', () => {
    const dir = tmp({
      'sub/dvc.yaml': 'stages:\n  a:\n    cmd: echo a > a.txt\n    deps: [in.txt]\n    outs: [a.txt]\n',
      'sub/dvc.lock': 'schema: "2.0"\nstages:\n  a:\n    cmd: echo a > a.txt\n',
    });
    const r = importDvc({ cwd: dir, file: 'sub/dvc.lock', out: '.pipelinerc' });
    expect(r.source).toBe('sub/dvc.yaml');
    expect(parse(r.text).stages.a).toEqual({ cmd: 'echo a > a.txt', wdir: 'sub', deps: ['sub/in.txt'], outs: ['sub/a.txt'] });
    expect(r.hints.join('\n')).toMatch(/dvc\.lock records 1 stage run; they are not carried over/);
  });

  it("points at DVC's default remote for settings.remote", () => {
    const dir = tmp({
      'dvc.yaml': 'stages: {}\n',
      '.dvc/config': "[core]\n    remote = storage\n['remote \"storage\"']\n    url = s3://team-bucket/dvc\n",
    });
    expect(importDvc({ cwd: dir, dryRun: true }).hints).toContain('DVC\'s default remote "storage" is s3://team-bucket/dvc: dvcl can share it: `settings.remote: s3://team-bucket/dvc` (dvcl\'s objects go under dvcl/v1/ below it, beside DVC\'s files/)');
    fs.writeFileSync(path.join(dir, '.dvc/config'), '[core]\nremote = local\n[remote "local"]\nurl = ../../shared/dvc-store\n');
    expect(importDvc({ cwd: dir, dryRun: true }).hints.join('\n')).toContain('dvcl can share the folder: `settings.remote: ../shared/dvc-store`');
  });

  it('names a missing dvc.yaml', () => {
    expect(() => importDvc({ cwd: tmp({}) })).toThrow(/cannot read dvc\.yaml: no such file/);
  });
});
