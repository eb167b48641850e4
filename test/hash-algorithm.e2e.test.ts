import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { json } from './helpers/cli.js';
import { cleanupRepos, pipelineRepo, results, type PipelineRepo, type ReproJson } from './helpers/pipeline.js';

// Switching `settings.hash` (issue 12.2): what was recorded under one algorithm is checked with
// that algorithm, so a switch alone makes nothing stale and rewrites nothing.

afterEach(cleanupRepos);

const RC = `version: 1
params: params.yaml
stages:
  prep:
    cmd: echo prep >> runs.log && cat raw.txt data/* > a.txt && mkdir -p built && cp data/* built/
    deps: [raw.txt, data]
    params: [prep.level]
    outs: [a.txt, built]
  report:
    cmd: echo report >> runs.log && wc -l < a.txt > report.txt
    deps: [a.txt]
    outs: [report.txt]
  other:
    cmd: echo other >> runs.log && cp other.txt other.out
    deps: [other.txt]
    outs: [other.out]
  upper:
    foreach: in/*.txt
    out: up/\${stem}.txt
    cmd: echo \${item} >> runs.log && tr a-z A-Z < \${item} > \${out}
    deps: [upper.sh]
`;

interface LockYaml { stages: Record<string, { deps: { path: string; hash: string }[]; outs: { path: string; hash: string }[]; items?: { hash: string } }> }
interface ManifestJson { stages: Record<string, { items: Record<string, { hash: string; stage_hash: string; output_hash: string }> }> }

const lockOf = (repo: PipelineRepo) => parse(repo.lock()!) as LockYaml;
const manifestOf = (repo: PipelineRepo) => JSON.parse(repo.manifest()!) as ManifestJson;

/** Every hash a lock entry records. */
function entryHashes(repo: PipelineRepo, stage: string): string[] {
  const e = lockOf(repo).stages[stage];
  return [...e.deps, ...e.outs].map((p) => p.hash).concat(e.items ? [e.items.hash] : []);
}

function repro(repo: PipelineRepo): ReproJson {
  const r = repo.run('repro', '--json');
  expect(r.code, r.stderr).toBe(0);
  return json<ReproJson>(r);
}

/** A pipeline run and committed under the default algorithm, then switched to sha256 on this machine only. */
async function switchedProject(): Promise<PipelineRepo> {
  const repo = await pipelineRepo(RC, {
    '.gitignore': '.dvcl/\nruns.log\n.pipelinerc.local\n.manifest.json.bak\n',
    'params.yaml': 'prep:\n  level: 1\n',
    'raw.txt': 'raw\n',
    'data/x.txt': 'x\n',
    'data/y.txt': 'y\n',
    'other.txt': 'other\n',
    'upper.sh': '# shared dep\n',
    'in/a.txt': 'alpha\n',
    'in/b.txt': 'beta\n',
  });
  repro(repo);
  expect(repo.takeRuns().sort()).toEqual(['in/a.txt', 'in/b.txt', 'other', 'prep', 'report']);
  expect(entryHashes(repo, 'prep').every((h) => h.startsWith('xxh128:'))).toBe(true);
  repo.commitAll();
  repo.write('.pipelinerc.local', 'settings:\n  hash: sha256\n');
  return repo;
}

describe('settings.hash switched after a run', () => {
  it('leaves every stage up to date: status has no reasons, repro runs nothing and rewrites nothing', async () => {
    const repo = await switchedProject();
    const st = repo.status();
    expect(st.stages.map((s) => [s.name, s.state, s.reasons])).toEqual([
      ['prep', 'up_to_date', []], ['report', 'up_to_date', []], ['other', 'up_to_date', []], ['upper', 'up_to_date', []],
    ]);
    expect(st.up_to_date).toBe(true);
    expect(repo.run('status').stdout).toMatch(/up to date/i);

    const r = repro(repo);
    expect(r.stages.filter((s) => s.result !== 'skipped')).toEqual([]);
    expect(repo.takeRuns()).toEqual([]);
    expect(repo.git('status', '--porcelain')).toBe(''); // pipeline.lock and .manifest.json byte-identical
    expect(repo.status().up_to_date).toBe(true);
  });

  it('re-runs only a stage whose dep changed (and its downstream when its outs change), recording it with the new algorithm', async () => {
    const repo = await switchedProject();
    const before = lockOf(repo);
    repo.write('data/y.txt', 'y changed\n');
    const st = repo.status();
    const prep = st.stages.find((s) => s.name === 'prep')!;
    // Old and new are comparable: both with the algorithm the lock recorded.
    expect(prep.reasons).toEqual([{ code: 'dep_changed', path: 'data', old: before.stages.prep.deps.find((d) => d.path === 'data')!.hash, new: expect.stringMatching(/^xxh128:/) }]);
    expect(st.stages.filter((s) => s.state !== 'up_to_date').map((s) => s.name)).toEqual(['prep', 'report']);

    const r = repro(repo);
    expect(results(r)).toEqual({ prep: 'ran', report: 'ran', other: 'skipped', upper: 'skipped' });
    expect(repo.takeRuns()).toEqual(['prep', 'report']);
    for (const stage of ['prep', 'report']) expect(entryHashes(repo, stage).every((h) => h.startsWith('sha256:')), stage).toBe(true);
    const after = lockOf(repo);
    expect(after.stages.other).toEqual(before.stages.other); // up to date: its entry is untouched
    expect(after.stages.upper).toEqual(before.stages.upper);

    expect(repo.status().up_to_date).toBe(true);
    repo.commitAll();
    expect(results(repro(repo))).toEqual({ prep: 'skipped', report: 'skipped', other: 'skipped', upper: 'skipped' });
    expect(repo.git('status', '--porcelain')).toBe('');
  });

  it('per-item: re-runs only the item whose input changed, recording it with the new algorithm', async () => {
    const repo = await switchedProject();
    const oldItems = manifestOf(repo).stages.upper.items;
    repo.write('in/b.txt', 'beta changed\n');
    const upper = repo.status().stages.find((s) => s.name === 'upper')!;
    expect(upper.reasons).toEqual([{ code: 'items_pending', count: 1 }]);

    const r = repro(repo);
    expect(results(r)).toEqual({ prep: 'skipped', report: 'skipped', other: 'skipped', upper: 'ran' });
    expect(repo.takeRuns()).toEqual(['in/b.txt']);
    expect(repo.read('up/b.txt')).toBe('BETA CHANGED\n');
    const items = manifestOf(repo).stages.upper.items;
    expect(items['in/a.txt']).toEqual(oldItems['in/a.txt']); // not re-run: its record is untouched
    expect([items['in/b.txt'].hash, items['in/b.txt'].stage_hash, items['in/b.txt'].output_hash].every((h) => h.startsWith('sha256:'))).toBe(true);
    expect(entryHashes(repo, 'upper').every((h) => h.startsWith('sha256:'))).toBe(true);

    expect(repo.status().up_to_date).toBe(true);
    repo.commitAll();
    expect(results(repro(repo))).toEqual({ prep: 'skipped', report: 'skipped', other: 'skipped', upper: 'skipped' });
    expect(repo.takeRuns()).toEqual([]);
    expect(repo.git('status', '--porcelain')).toBe('');
  });

  it('counts a hash of an algorithm it does not know as changed: the stage or item runs, nothing crashes', async () => {
    const repo = await switchedProject();
    const lock = repo.lock()!;
    const otherDep = lockOf(repo).stages.other.deps[0].hash;
    repo.write('pipeline.lock', lock.replace(otherDep, otherDep.replace(/^xxh128:/, 'xxh999:')));
    const itemHash = manifestOf(repo).stages.upper.items['in/a.txt'].hash;
    repo.write('.manifest.json', repo.manifest()!.replace(itemHash, itemHash.replace(/^xxh128:/, 'xxh999:')));

    const st = repo.status();
    expect(st.stages.find((s) => s.name === 'other')!.reasons).toEqual([{ code: 'dep_changed', path: 'other.txt', old: otherDep.replace(/^xxh128:/, 'xxh999:'), new: expect.stringMatching(/^sha256:/) }]);
    expect(st.stages.find((s) => s.name === 'upper')!.reasons).toEqual([{ code: 'items_pending', count: 1 }]);
    expect(results(repro(repo))).toEqual({ prep: 'skipped', report: 'skipped', other: 'ran', upper: 'ran' });
    expect(repo.takeRuns().sort()).toEqual(['in/a.txt', 'other']);
    expect(repo.status().up_to_date).toBe(true);
  });
});
