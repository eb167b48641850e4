import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/core/config/load.js';
import { buildDag, inferEdges, neighbourhood, pipelineOf, selectStages, subDag } from '../src/core/graph/dag.js';
import { resolveTargets, stageOfPath } from '../src/core/graph/targets.js';
import type { DvclError } from '../src/core/errors.js';
import type { Dag, StageConfig } from '../src/core/pipeline.js';

function stage(name: string, s: Partial<StageConfig> = {}): StageConfig {
  return { name, cmd: ['true'], deps: [], params: [], outs: [], env: {}, wdir: '.', persist: false, frozen: false, always_changed: false, ...s };
}

// prepare → train-a, train-b → evaluate; extract (per item) → merge; lonely on its own.
const STAGES: StageConfig[] = [
  stage('prepare', { deps: ['data/raw.csv'], outs: ['data/prepared'] }),
  stage('train-a', { deps: ['data/prepared/a.csv'], outs: ['models/a.pkl'] }),
  stage('train-b', { deps: ['data/prepared/b.csv'], outs: ['models/b.pkl'] }),
  stage('evaluate', { deps: ['models/a.pkl', 'models/b.pkl'], outs: ['metrics.json'] }),
  stage('extract', { foreach: ['pages/*.html'], out: 'out/${stem}.up', cmd: ['up ${item} ${out}'] }),
  stage('merge', { deps: ['out'], outs: ['merged.csv'] }),
  stage('lonely', { outs: ['lonely.txt'] }),
  // A stage named like another stage's out: the name wins.
  stage('metrics.json', { outs: ['other.json'] }),
];

function dag(stages: StageConfig[]): Dag {
  const { edges, problems } = inferEdges(stages);
  expect(problems).toEqual([]);
  const d = buildDag(stages, edges);
  if ('cycle' in d) throw new Error(`unexpected cycle ${d.cycle.join(' → ')}`);
  return d;
}

function failure(fn: () => unknown): { code: string; exit: number; message: string; suggestions: string[] } {
  try {
    fn();
  } catch (e) {
    const d = e as DvclError;
    return { code: d.code, exit: d.exit, message: d.message, suggestions: d.suggestions };
  }
  throw new Error('expected an error');
}

describe('resolveTargets: out paths', () => {
  it('names the stage whose outs hold the path: an out, a file in a folder out, an item output', () => {
    expect(resolveTargets(STAGES, ['models/a.pkl'])).toEqual(['train-a']);
    expect(resolveTargets(STAGES, ['data/prepared/a.csv', 'data/prepared'])).toEqual(['prepare']);
    expect(resolveTargets(STAGES, ['out/x.up'])).toEqual(['extract']);
    expect(resolveTargets(STAGES, ['./models//b.pkl', 'data/prepared/'])).toEqual(['train-b', 'prepare']);
  });

  it('reads paths relative to the folder the command runs in', () => {
    expect(resolveTargets(STAGES, ['a.pkl'], { prefix: 'models' })).toEqual(['train-a']);
    expect(resolveTargets(STAGES, ['../merged.csv'], { prefix: 'models' })).toEqual(['merge']);
    expect(stageOfPath(STAGES, '../../x', 'models')).toBeUndefined();
  });

  it('lets a stage name win over an out path', () => {
    expect(resolveTargets(STAGES, ['metrics.json'])).toEqual(['metrics.json']);
  });

  it('refuses a path no stage writes (exit 2), with the closest out', () => {
    const f = failure(() => resolveTargets(STAGES, ['models/c.pkl']));
    expect(f).toMatchObject({ code: 'unknown_stage', exit: 2 });
    expect(f.message).toBe(`unknown stage "models/c.pkl": no stage has that name, and no stage's outs hold that path`);
    expect(f.suggestions).toEqual(['did you mean "models/a.pkl"?']);
    expect(failure(() => resolveTargets(STAGES, ['c.pkl'], { prefix: 'models' })).suggestions).toEqual(['did you mean "models/a.pkl"?']);
    // a dep is not an out, nor is an input item
    expect(failure(() => resolveTargets(STAGES, ['data/raw.csv'])).code).toBe('unknown_stage');
    expect(failure(() => resolveTargets(STAGES, ['pages/x.html'])).code).toBe('unknown_stage');
  });

  it('keeps the closest-name hint for an unknown name', () => {
    const f = failure(() => resolveTargets(STAGES, ['evalute']));
    expect(f.message).toBe('unknown stage "evalute"');
    expect(f.suggestions).toEqual(['did you mean "evaluate"?']);
  });
});

describe('resolveTargets: the quickstart, as the README names its stages', () => {
  const cfg = loadConfig({ cwd: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../examples/quickstart') });
  it('data/features.csv is features; a file in split\'s folder out is split; an item output is extract', () => {
    expect(resolveTargets(cfg.stages, ['data/features.csv', 'data/items/OSL.json', 'data/features/OSL.json'])).toEqual(['features', 'split', 'extract']);
  });
});

describe('resolveTargets: --glob', () => {
  it('matches patterns over stage names, once each, in stage order per pattern', () => {
    expect(resolveTargets(STAGES, ['train-*'], { glob: true })).toEqual(['train-a', 'train-b']);
    expect(resolveTargets(STAGES, ['{merge,lonely}', 'train-?', 'train-a'], { glob: true })).toEqual(['merge', 'lonely', 'train-a', 'train-b']);
  });

  it('refuses a pattern matching no stage, naming it', () => {
    const f = failure(() => resolveTargets(STAGES, ['train-*', 'test-*'], { glob: true }));
    expect(f).toMatchObject({ code: 'unknown_stage', exit: 2, message: 'no stage matches the pattern "test-*"' });
  });
});

describe('neighbourhood, pipelineOf, subDag', () => {
  const d = dag(STAGES);

  it('dag STAGE: upstream and downstream, not siblings', () => {
    expect(neighbourhood(d, ['train-a'])).toEqual(['prepare', 'train-a', 'evaluate']);
    expect(neighbourhood(d, ['prepare'])).toEqual(['prepare', 'train-a', 'train-b', 'evaluate']);
    expect(neighbourhood(d, ['lonely'])).toEqual(['lonely']);
  });

  it('repro --pipeline: the weakly connected component, siblings included', () => {
    expect(pipelineOf(d, ['train-a'])).toEqual(['prepare', 'train-a', 'train-b', 'evaluate']);
    expect(selectStages(d, ['merge'], { pipeline: true })).toEqual(['extract', 'merge']);
    expect(selectStages(d, ['evaluate', 'lonely'], { pipeline: true })).toEqual(['prepare', 'train-a', 'train-b', 'evaluate', 'lonely']);
  });

  it('subDag keeps only edges and links between the kept stages', () => {
    const s = subDag(d, ['prepare', 'train-a', 'evaluate']);
    expect(s.order).toEqual(['prepare', 'train-a', 'evaluate']);
    expect(s.edges.map((e) => `${e.from}→${e.to}`)).toEqual(['prepare→train-a', 'train-a→evaluate']);
    expect([...s.upstream.get('evaluate')!]).toEqual(['train-a']);
    expect([...s.downstream.get('prepare')!]).toEqual(['train-a']);
  });
});
