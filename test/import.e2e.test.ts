import { afterEach, describe, expect, it } from 'vitest';
import { json } from './helpers/cli.js';
import { cleanupRepos, pipelineRepo, type ReproJson, type StatusJson } from './helpers/pipeline.js';

// `dvcl import` through the built binary, in temp git repositories: DVC's tutorial pipeline
// (example-get-started's prepare → featurize → train → evaluate) imported, then run by dvcl.

afterEach(cleanupRepos);

/** example-get-started's dvc.yaml (Apache-2.0, github.com/iterative/example-get-started), as it is. */
const GET_STARTED_DVC_YAML = `artifacts:
  stackoverflow-dataset:
    path: data/data.xml
    type: dataset
    desc: Initial XML StackOverflow dataset (raw data)
  text-classification:
    path: model.pkl
    desc: Detect whether the given stackoverflow question should have R language tag
    type: model
    labels:
    - nlp
    - classification
    - stackoverflow
stages:
  prepare:
    cmd: python src/prepare.py data/data.xml
    deps:
    - data/data.xml
    - src/prepare.py
    params:
    - prepare.seed
    - prepare.split
    outs:
    - data/prepared
  featurize:
    cmd: python src/featurization.py data/prepared data/features
    deps:
    - data/prepared
    - src/featurization.py
    params:
    - featurize.max_features
    - featurize.ngrams
    outs:
    - data/features
  train:
    cmd: python src/train.py data/features model.pkl
    deps:
    - data/features
    - src/train.py
    params:
    - train.min_split
    - train.n_est
    - train.seed
    outs:
    - model.pkl
  evaluate:
    cmd: python src/evaluate.py model.pkl data/features
    deps:
    - data/features
    - model.pkl
    - src/evaluate.py
    outs:
    - eval
metrics:
- eval/metrics.json
plots:
- ROC:
    template: simple
    x: fpr
    y:
      eval/plots/sklearn/roc/train.json: tpr
      eval/plots/sklearn/roc/test.json: tpr
- Confusion-Matrix:
    template: confusion
    x: actual
    y:
      eval/plots/sklearn/cm/train.json: predicted
      eval/plots/sklearn/cm/test.json: predicted
- Precision-Recall:
    template: simple
    x: recall
    y:
      eval/plots/sklearn/prc/train.json: precision
      eval/plots/sklearn/prc/test.json: precision
- eval/plots/images/importance.png
`;

const PARAMS = `prepare:
  split: 0.20
  seed: 20170428
featurize:
  max_features: 200
  ngrams: 2
train:
  seed: 20170428
  n_est: 50
  min_split: 0.01
`;

/** The same stage structure with commands a test can run (shell one-liners for the Python scripts). */
const RUNNABLE_DVC_YAML = `stages:
  prepare:
    cmd: mkdir -p data/prepared && cp data/data.xml data/prepared/train.tsv && echo prepare >> runs.log
    deps:
    - data/data.xml
    params:
    - prepare.seed
    - prepare.split
    outs:
    - data/prepared
  featurize:
    cmd: mkdir -p data/features && cat data/prepared/train.tsv > data/features/train.pkl && echo featurize >> runs.log
    deps:
    - data/prepared
    params:
    - featurize.max_features
    - featurize.ngrams
    outs:
    - data/features
  train:
    cmd: cp data/features/train.pkl model.pkl && echo train >> runs.log
    deps:
    - data/features
    params:
    - train.min_split
    - train.n_est
    - train.seed
    outs:
    - model.pkl
  evaluate:
    cmd: >-
      mkdir -p eval && echo '{"avg_prec": 0.9}' > eval/metrics.json && echo '[]' > eval/prc.json && echo evaluate >> runs.log
    deps:
    - data/features
    - model.pkl
    metrics:
    - eval/metrics.json:
        cache: false
    plots:
    - eval/prc.json:
        cache: false
metrics:
- eval/metrics.json
`;

const stageOf = (s: StatusJson, name: string) => s.stages.find((x) => x.name === name)!;

describe('dvcl import (built CLI)', () => {
  it("imports DVC's tutorial pipeline; repro runs it in order, tracks its params, and is then up to date", async () => {
    // pipelineRepo writes a .pipelinerc: this project starts without one.
    const r = await pipelineRepo('', { 'dvc.yaml': RUNNABLE_DVC_YAML, 'params.yaml': PARAMS, 'data/data.xml': '<posts/>\n' });
    r.git('rm', '-q', '.pipelinerc');
    r.commitAll('a DVC project');

    const imp = r.run('import');
    expect(imp.code, imp.stderr).toBe(1); // the top-level `metrics:` section is not translated
    expect(imp.stdout).toBe('wrote .pipelinerc: 4 stages from dvc.yaml; 1 thing not translated (listed above)\n');
    expect(imp.stderr).toContain('dvc.yaml:42:1: metrics: not translated: the `metrics` section\n  instead: dvcl has no `metrics show`');
    expect(imp.stderr).toMatch(/hint: DVC kept these outs in its cache: data\/prepared, data\/features, model\.pkl; .*`dvcl push`/);

    const run = r.run('repro', '--json');
    expect(run.code, run.stderr).toBe(0);
    expect(json<ReproJson>(run).stages.map((s) => [s.name, s.result])).toEqual([['prepare', 'ran'], ['featurize', 'ran'], ['train', 'ran'], ['evaluate', 'ran']]);
    expect(r.takeRuns()).toEqual(['prepare', 'featurize', 'train', 'evaluate']);
    expect(r.read('eval/metrics.json')).toBe('{"avg_prec": 0.9}\n');
    expect(r.status().up_to_date).toBe(true);

    // A train parameter: train and what reads its model are stale, not prepare nor featurize.
    r.write('params.yaml', PARAMS.replace('n_est: 50', 'n_est: 100'));
    const st = r.status();
    expect(st.stages.map((s) => [s.name, s.state])).toEqual([['prepare', 'up_to_date'], ['featurize', 'up_to_date'], ['train', 'stale'], ['evaluate', 'stale']]);
    expect(stageOf(st, 'train').reasons).toContainEqual(expect.objectContaining({ code: 'param_changed', key: 'train.n_est' }));
    r.run('repro');
    expect(r.takeRuns()).toEqual(['train']); // same model.pkl: evaluate is cut off early
    expect(r.status().up_to_date).toBe(true);

    // Never over an existing .pipelinerc.
    const again = r.run('import');
    expect(again.code).toBe(2);
    expect(again.stderr).toBe('Error: .pipelinerc already exists\n  hint: pass --force to replace it, --out FILE to write elsewhere, or --dry-run to print the translation\n');
  });

  it("translates example-get-started's own dvc.yaml: stage order, params and links as DVC has them", async () => {
    const r = await pipelineRepo('', {
      'dvc.yaml': GET_STARTED_DVC_YAML, 'params.yaml': PARAMS, 'data/data.xml': '',
      'src/prepare.py': '', 'src/featurization.py': '', 'src/train.py': '', 'src/evaluate.py': '',
    });
    r.git('rm', '-q', '.pipelinerc');
    const imp = r.run('import', '--json');
    expect(imp.code).toBe(1);
    const out = json(imp);
    expect(out.stages.map((s: { name: string }) => s.name)).toEqual(['prepare', 'featurize', 'train', 'evaluate']);
    expect(out.dropped.map((d: { line: number; key: string }) => `${d.line} ${d.key}`)).toEqual(['1 artifacts', '54 metrics', '56 plots']);

    const dag = r.run('dag', '--json');
    expect(dag.code, dag.stderr).toBe(0);
    const { nodes, edges } = json(dag);
    expect(nodes.map((n: { name: string; params: string[] }) => [n.name, n.params])).toEqual([
      ['prepare', ['prepare.seed', 'prepare.split']],
      ['featurize', ['featurize.max_features', 'featurize.ngrams']],
      ['train', ['train.min_split', 'train.n_est', 'train.seed']],
      ['evaluate', []],
    ]);
    expect(edges.map((e: { from: string; to: string }) => `${e.from}→${e.to}`).sort()).toEqual(['featurize→evaluate', 'featurize→train', 'prepare→featurize', 'train→evaluate']);
    const dry = r.run('repro', '--dry-run', '--json');
    expect(json<ReproJson>(dry).stages.map((s) => s.name)).toEqual(['prepare', 'featurize', 'train', 'evaluate']);
  });

  it('prints the translation with --dry-run and reports a malformed dvc.yaml at file:line:col (exit 2)', async () => {
    const r = await pipelineRepo('', { 'dvc.yaml': 'stages:\n  a:\n    cmd: echo a\n' });
    r.git('rm', '-q', '.pipelinerc');
    const dry = r.run('import', '-n');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('stages:\n  # from dvc.yaml:2\n  a:\n    cmd: echo a\n');
    expect(r.exists('.pipelinerc')).toBe(false);

    r.write('dvc.yaml', 'stages:\n  a:\n    cmd: [echo a\n');
    const bad = r.run('import');
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^Error: dvc\.yaml:4:1: invalid YAML: /);
  });
});
