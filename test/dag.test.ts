import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/core/config/load.js';
import { buildDag, chainLengths, inferEdges, selectStages } from '../src/core/graph/dag.js';
import type { Dag, StageConfig } from '../src/core/pipeline.js';
import { dvclSpawn, json } from './helpers/cli.js';

const QUICKSTART = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../examples/quickstart');

function stage(name: string, s: Partial<StageConfig> = {}): StageConfig {
  return { name, cmd: ['true'], deps: [], params: [], outs: [], env: {}, wdir: '.', persist: false, frozen: false, always_changed: false, ...s };
}

function perItem(name: string, foreach: string, out: string, s: Partial<StageConfig> = {}): StageConfig {
  return stage(name, { foreach: [foreach], out, cmd: ['run ${item} ${out}'], ...s });
}

/** Edges as `from→to` pairs, and the problems' messages, for compact assertions. */
function wiring(stages: StageConfig[]): { edges: string[]; problems: string[] } {
  const { edges, problems } = inferEdges(stages);
  return { edges: edges.map((e) => `${e.from}→${e.to}`), problems: problems.map((p) => `${p.stage}.${p.key}${p.index === undefined ? '' : `[${p.index}]`}: ${p.message}`) };
}

function dag(stages: StageConfig[]): Dag {
  const { edges, problems } = inferEdges(stages);
  expect(problems).toEqual([]);
  const d = buildDag(stages, edges);
  if ('cycle' in d) throw new Error(`unexpected cycle ${d.cycle.join(' → ')}`);
  return d;
}

describe('inferEdges: path containment', () => {
  it('links a dep that is, lies inside, or contains an out', () => {
    const w = wiring([
      stage('prepare', { outs: ['data/prepared'] }),
      stage('same', { deps: ['data/prepared'] }),
      stage('inside', { deps: ['data/prepared/train.csv'] }),
      stage('contains', { deps: ['data'] }),
      stage('root', { deps: ['.'] }),
      stage('unrelated', { deps: ['data/raw', 'data/prepared-old'] }),
    ]);
    expect(w.problems).toEqual([]);
    expect(w.edges).toEqual(['prepare→same', 'prepare→inside', 'prepare→contains', 'prepare→root']);
  });

  it('compares whole path components: data/features is not data/features.csv', () => {
    const w = wiring([
      stage('dir', { outs: ['data/features'] }),
      stage('csv', { outs: ['data/features.csv'] }),
      stage('report', { deps: ['data/features.csv'] }),
      stage('merge', { deps: ['data/features'] }),
    ]);
    expect(w.problems).toEqual([]);
    expect(w.edges).toEqual(['csv→report', 'dir→merge']);
  });

  it('reports the same or nested outs, across stages and within one', () => {
    expect(wiring([stage('a', { outs: ['data/x'] }), stage('b', { outs: ['data/x'] })]).problems)
      .toEqual(['b.outs[0]: data/x overlaps data/x, an output of stage a']);
    expect(wiring([stage('a', { outs: ['out/a/b'] }), stage('b', { outs: ['out'] })]).problems)
      .toEqual(['b.outs[0]: out overlaps out/a/b, an output of stage a']);
    expect(wiring([stage('a', { outs: ['data', 'data/x'] })]).problems)
      .toEqual(['a.outs[1]: data/x overlaps data of the same stage']);
  });
});

describe('inferEdges: per-item stages', () => {
  const parse = perItem('parse', 'data/raw/*.html', 'data/parsed/${stem}.json', { deps: ['scripts/parse.js'] });

  it('links a dep on the folder of a per-item out template, or on one item output', () => {
    const w = wiring([parse, stage('report', { deps: ['data/parsed'] }), stage('one', { deps: ['data/parsed/a.json'] }), stage('all', { deps: ['data'] })]);
    expect(w.problems).toEqual([]);
    expect(w.edges).toEqual(['parse→report', 'parse→one', 'parse→all']);
  });

  it('reports a dep among the per-item outputs that the template never produces', () => {
    const w = wiring([parse, stage('report', { deps: ['data/parsed/summary.csv'] })]);
    expect(w.edges).toEqual([]);
    expect(w.problems).toEqual(['report.deps[0]: data/parsed/summary.csv lies among the per-item outputs data/parsed/${stem}.json, which never produce it']);
  });

  it('links a foreach glob over another stage\'s out folder, but not a glob that cannot reach into it', () => {
    const split = stage('split', { outs: ['data/items'] });
    expect(wiring([split, perItem('extract', 'data/items/*.json', 'data/features/${stem}.json')]).edges).toEqual(['split→extract']);
    expect(wiring([split, perItem('deep', 'data/**/*.json', 'out/${stem}.json')]).edges).toEqual(['split→deep']);
    expect(wiring([split, perItem('flat', 'data/*.json', 'out/${stem}.json')]).edges).toEqual([]);
    expect(wiring([split, perItem('other', 'data/raw/*.json', 'out/${stem}.json')]).edges).toEqual([]);
  });

  it('chains per-item stages: a foreach glob over another per-item stage\'s outputs', () => {
    const w = wiring([parse, perItem('score', 'data/parsed/*.json', 'data/scores/${stem}.txt'), perItem('csvs', 'data/parsed/*.csv', 'data/c/${stem}.txt')]);
    expect(w.problems).toEqual([]);
    expect(w.edges).toEqual(['parse→score']);
  });

  it('an out template next to its inputs (${dir}) claims only what it writes', () => {
    const w = wiring([
      perItem('sidecar', 'data/raw/*.html', '${dir}/${stem}.json', { deps: ['scripts/parse.js'] }),
      stage('report', { deps: ['data/raw', 'scripts/report.js'], outs: ['reports/metrics.json'] }),
      stage('one', { deps: ['data/raw/a.json', 'data/raw/a.html'] }),
    ]);
    expect(w.problems).toEqual([]);
    expect(w.edges).toEqual(['sidecar→report', 'sidecar→one']);
  });

  it('an out template at the root does not make every other path an error', () => {
    const w = wiring([perItem('p', 'raw/*.html', '${stem}.json'), stage('q', { deps: ['scripts/q.js', 'a.json'] })]);
    expect(w.problems).toEqual([]);
    expect(w.edges).toEqual(['p→q']);
  });

  it('two per-item stages may share an output folder; the same outputs clash', () => {
    const json = perItem('json', 'raw/*.html', 'parsed/${stem}.json');
    const w = wiring([json, perItem('csv', 'raw/*.html', 'parsed/${stem}.csv'), stage('use', { deps: ['parsed/a.csv'] })]);
    expect(w.problems).toEqual([]);
    expect(w.edges).toEqual(['csv→use']);
    expect(wiring([json, perItem('again', 'raw/*.htm', 'parsed/${stem}.json')]).problems)
      .toEqual(['again.out: parsed/${stem}.json overlaps parsed/${stem}.json, an output of stage json']);
    expect(wiring([json, stage('merge', { outs: ['parsed/all.json'] })]).problems)
      .toEqual(['merge.outs[0]: parsed/all.json overlaps parsed/${stem}.json, an output of stage json']);
  });
});

describe('buildDag', () => {
  it('orders by dependency, breaking ties by declaration order', () => {
    const d = dag([
      stage('report', { deps: ['data/b', 'data/a'] }),
      stage('zeta', {}),
      stage('b', { deps: ['data/a'], outs: ['data/b'] }),
      stage('a', { outs: ['data/a'] }),
      stage('alpha', {}),
    ]);
    expect(d.order).toEqual(['zeta', 'a', 'b', 'report', 'alpha']);
    expect([...d.upstream.get('report')!].sort()).toEqual(['a', 'b']);
    expect([...d.downstream.get('a')!].sort()).toEqual(['b', 'report']);
  });

  it('returns the stages of a cycle, and a stage reading its own out', () => {
    const stages = [stage('x', { outs: ['free'] }), stage('a', { deps: ['c'], outs: ['a'] }), stage('b', { deps: ['a'], outs: ['b'] }), stage('c', { deps: ['b'], outs: ['c'] })];
    const { edges } = inferEdges(stages);
    const r = buildDag(stages, edges);
    if (!('cycle' in r)) throw new Error('no cycle found');
    // Closed, every stage of the loop once, each step an edge in the direction data flows.
    expect(r.cycle).toHaveLength(4);
    expect(r.cycle[3]).toBe(r.cycle[0]);
    expect([...r.cycle.slice(0, 3)].sort()).toEqual(['a', 'b', 'c']);
    for (let i = 0; i < 3; i++) expect(edges.some((e) => e.from === r.cycle[i] && e.to === r.cycle[i + 1])).toBe(true);
    const self = [stage('s', { deps: ['out/part'], outs: ['out'] })];
    expect(buildDag(self, inferEdges(self).edges)).toEqual({ cycle: ['s', 's'] });
  });
});

describe('selectStages and chainLengths', () => {
  //   a → b → d
  //   c ──↗     e (independent)
  const d = dag([
    stage('a', { outs: ['a'] }),
    stage('c', { outs: ['c'] }),
    stage('b', { deps: ['a'], outs: ['b'] }),
    stage('d', { deps: ['b', 'c'], outs: ['d'] }),
    stage('e', {}),
  ]);

  it('selects everything by default, in dependency order', () => {
    expect(selectStages(d, [])).toEqual(['a', 'c', 'b', 'd', 'e']);
  });

  it('selects the targets and their upstream', () => {
    expect(selectStages(d, ['d'])).toEqual(['a', 'c', 'b', 'd']);
    expect(selectStages(d, ['b', 'e'])).toEqual(['a', 'b', 'e']);
  });

  it('--single-item: only the targets', () => {
    expect(selectStages(d, ['d', 'a'], { single: true })).toEqual(['a', 'd']);
  });

  it('--downstream: the targets and everything after them', () => {
    expect(selectStages(d, ['b'], { downstream: true })).toEqual(['b', 'd']);
    expect(selectStages(d, ['a', 'c'], { downstream: true })).toEqual(['a', 'c', 'b', 'd']);
  });

  it('chainLengths counts the stages on the longest path to a sink', () => {
    expect(Object.fromEntries(chainLengths(d))).toEqual({ a: 3, b: 2, c: 2, d: 1, e: 1 });
  });
});

describe('the quickstart example', () => {
  const dirs: string[] = [];
  afterAll(() => { for (const x of dirs) fs.rmSync(x, { recursive: true, force: true }); });
  const copy = (): string => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-dag-')));
    dirs.push(dir);
    fs.cpSync(QUICKSTART, dir, { recursive: true });
    return dir;
  };
  const CHAIN = [['clean', 'split'], ['split', 'extract'], ['extract', 'features'], ['features', 'report']];

  it('loads into the chain clean → split → extract → features → report', () => {
    const cfg = loadConfig({ cwd: QUICKSTART });
    expect(cfg.dag.order).toEqual(['clean', 'split', 'extract', 'features', 'report']);
    expect(cfg.dag.edges.map((e) => [e.from, e.to])).toEqual(CHAIN);
  });

  it('dvcl dag --json / --mermaid / --dot / text', async () => {
    const dir = copy();
    const [j, mermaid, dot, text] = await Promise.all([['--json'], ['--mermaid'], ['--dot'], []].map((a) => dvclSpawn(dir, ['dag', ...a]).done));

    expect(j.code, j.stderr).toBe(0);
    const doc = json(j);
    expect(doc.edges.map((e: { from: string; to: string }) => [e.from, e.to])).toEqual(CHAIN);
    expect(doc.edges[2]).toEqual({ from: 'extract', to: 'features', dep: 'data/features', out: 'data/features/${stem}.json' });
    expect(doc.nodes.map((n: { name: string }) => n.name)).toEqual(['clean', 'split', 'extract', 'features', 'report']);
    expect(doc.nodes[2]).toMatchObject({ name: 'extract', per_item: true, foreach: ['data/items/*.json'], out: 'data/features/${stem}.json' });

    expect(mermaid.code, mermaid.stderr).toBe(0);
    const lines = mermaid.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('flowchart TD');
    const ids = new Map(lines.flatMap((l) => { const m = /^ {2}(\w+)\[+"(\w+)/.exec(l); return m ? [[m[1], m[2]] as const] : []; }));
    expect([...ids.values()]).toEqual(['clean', 'split', 'extract', 'features', 'report']);
    const arrows = lines.filter((l) => l.includes('-->')).map((l) => l.trim().split(' --> ').map((id) => ids.get(id)));
    expect(arrows).toEqual(CHAIN);
    // The README's rendered graph is this very output, so it cannot drift from what dvcl prints.
    expect(fs.readFileSync(path.join(QUICKSTART, '../../README.md'), 'utf8')).toContain('```mermaid\n' + mermaid.stdout + '```\n');

    expect(dot.code, dot.stderr).toBe(0);
    expect(dot.stdout).toMatch(/^digraph \w+ \{\n[\s\S]*\}\n$/);
    for (const [a, b] of CHAIN) expect(dot.stdout).toContain(`  "${a}" -> "${b}";\n`);

    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('extract (per item)');
    expect(text.stdout).toContain('  each:  data/items/*.json → data/features/${stem}.json');
  });
});
