import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { json, type CliResult } from './helpers/cli.js';
import { cleanupRepos, pipelineRepo, type PipelineRepo } from './helpers/pipeline.js';

// A re-run that yields what the lock and the manifest already say leaves them as they are
// (issue 12.13): a teammate who rebuilds does not get a dirty tree.

afterEach(cleanupRepos);

const RC = `version: 1
stages:
  copy:
    cmd: test ! -e fail.flag && cp in.txt copy.txt && echo copy >> runs.log
    deps: [in.txt]
    outs: [copy.txt]
  upper:
    cmd: tr a-z A-Z < copy.txt > upper.txt && echo upper >> runs.log
    deps: [copy.txt]
    outs: [upper.txt]
  stamp:
    cmd: echo fixed > stamp.txt && echo stamp >> runs.log
    outs: [stamp.txt]
    always_changed: true
  items:
    foreach: in/*.txt
    out: out/\${stem}.txt
    cmd: test ! -e fail.flag && cp \${item} \${out}
`;

interface RunJson { ok: boolean; run?: string; stages: { name: string; result: string; items?: { ran: number } }[] }

function ok(r: CliResult): CliResult {
  expect(r.code, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
  return r;
}

/** The pipeline run once and committed, as a teammate finds it after a pull. */
async function committed(): Promise<{ repo: PipelineRepo; lock: string; manifest: string }> {
  const repo = await pipelineRepo(RC, { '.gitignore': '.dvcl/\nruns.log\n.manifest.json.bak\n', 'in.txt': 'hello\n', 'in/a.txt': 'a\n', 'in/b.txt': 'b\n' });
  ok(repo.run('repro'));
  repo.takeRuns();
  repo.commitAll('first run');
  return { repo, lock: repo.lock()!, manifest: repo.manifest()! };
}

function results(r: CliResult): Record<string, string> {
  return Object.fromEntries(json<RunJson>(r).stages.map((s) => [s.name, s.result]));
}

/** Nothing to commit, and the state files byte for byte as committed. */
function unchanged(repo: PipelineRepo, before: { lock: string; manifest: string }): void {
  expect(repo.git('status', '--porcelain')).toBe('');
  expect(repo.lock()).toBe(before.lock);
  expect(repo.manifest()).toBe(before.manifest);
}

describe('a re-run with the same result rewrites nothing', () => {
  it('repro --force runs every stage and item again and changes no file', async () => {
    const { repo, ...before } = await committed();
    const r = ok(repo.run('repro', '--force', '--json'));
    expect(results(r)).toEqual({ copy: 'ran', upper: 'ran', stamp: 'ran', items: 'ran' });
    expect(json<RunJson>(r).stages.find((s) => s.name === 'items')!.items!.ran).toBe(2);
    expect(repo.takeRuns().sort()).toEqual(['copy', 'stamp', 'upper']);
    unchanged(repo, before);
  });

  it('an always_changed stage that writes the same out changes no file', async () => {
    const { repo, ...before } = await committed();
    const r = ok(repo.run('repro', '--json'));
    expect(results(r)).toMatchObject({ stamp: 'ran', copy: 'skipped' });
    expect(repo.takeRuns()).toEqual(['stamp']);
    unchanged(repo, before);
  });

  it('a stage re-run because its out was deleted, producing it again, changes no file', async () => {
    const { repo, ...before } = await committed();
    fs.rmSync(path.join(repo.dir, 'copy.txt'));
    const r = ok(repo.run('repro', '--json', '--no-run-cache'));
    expect(results(r)).toEqual({ copy: 'ran', upper: 'skipped', stamp: 'ran', items: 'skipped' });
    unchanged(repo, before);
    fs.rmSync(path.join(repo.dir, 'copy.txt'));
    const restored = ok(repo.run('repro', '--json')); // placed from the run cache: no file changes either
    expect(results(restored)).toEqual({ copy: 'restored', upper: 'skipped', stamp: 'ran', items: 'skipped' });
    unchanged(repo, before);
  });

  it('a per-item stage whose items run again (--force, a deleted output) changes no file', async () => {
    const { repo, ...before } = await committed();
    const forced = ok(repo.run('repro', '--force', '-s', 'items', '--json'));
    expect(json<RunJson>(forced).stages[0]).toMatchObject({ name: 'items', result: 'ran', items: { ran: 2 } });
    unchanged(repo, before);
    fs.rmSync(path.join(repo.dir, 'out/a.txt'));
    const one = ok(repo.run('repro', '-s', 'items', '--json', '--no-run-cache'));
    expect(json<RunJson>(one).stages[0]).toMatchObject({ result: 'ran', items: { ran: 1 } });
    unchanged(repo, before);
    fs.rmSync(path.join(repo.dir, 'out/a.txt'));
    const restored = ok(repo.run('repro', '-s', 'items', '--json'));
    expect(json<RunJson>(restored).stages[0]).toMatchObject({ result: 'restored', items: { ran: 0, restored: 1 } });
    unchanged(repo, before);
  });

  it('retry after a failure rewrites the failure records, and keeps lock entries whose content is the same', async () => {
    const { repo, ...before } = await committed();
    repo.write('fail.flag', '');
    expect(repo.run('repro', '--force', '-k', 'copy', 'items').code).toBe(1);
    fs.rmSync(path.join(repo.dir, 'fail.flag'));
    const r = ok(repo.run('retry', '--json'));
    const run = json<RunJson>(r).run!;
    expect(results(r)).toMatchObject({ copy: 'ran', items: 'ran' });
    expect(repo.lock()).toBe(before.lock);
    // The failures are gone from the manifest: the successes that replaced them are this run's.
    const m = JSON.parse(repo.manifest()!);
    expect(m.stages.copy).toMatchObject({ status: 'success', run });
    expect(m.stages.items.status).toBe('success');
    for (const item of ['in/a.txt', 'in/b.txt']) expect(m.stages.items.items[item]).toMatchObject({ status: 'success', run });
    expect(m.runs).toHaveProperty([run]);
    expect(repo.manifest()).not.toContain('"failed"');
    expect(repo.status().up_to_date).toBe(false); // only the always_changed stage
    expect(repo.status().stages.filter((s) => s.reasons.length).map((s) => s.name)).toEqual(['stamp']);
  });
});

describe('a re-run with a different result rewrites the entries that changed', () => {
  it('a changed dep rewrites its stage\'s entry with the new run; entries that came out the same stay', async () => {
    const { repo, ...before } = await committed();
    const old = parse(before.lock).stages;
    repo.write('in.txt', 'world\n');
    repo.write('in/b.txt', 'b2\n');
    const r = ok(repo.run('repro', '--json'));
    const run = json<RunJson>(r).run!;
    expect(results(r)).toEqual({ copy: 'ran', upper: 'ran', stamp: 'ran', items: 'ran' });
    const lock = parse(repo.lock()!).stages;
    for (const s of ['copy', 'upper', 'items']) {
      expect(lock[s].run, s).toBe(run);
      expect(lock[s].git.commit, s).toBe(repo.git('rev-parse', 'HEAD'));
    }
    expect(lock.copy.deps[0].hash).not.toBe(old.copy.deps[0].hash);
    expect(lock.stamp).toEqual(old.stamp);
    const m = JSON.parse(repo.manifest()!);
    const was = JSON.parse(before.manifest);
    expect(m.stages.copy.run).toBe(run);
    expect(m.stages.items.items['in/b.txt']).toMatchObject({ status: 'success', run });
    expect(m.stages.items.items['in/a.txt']).toEqual(was.stages.items.items['in/a.txt']);
    expect(m.stages.stamp).toEqual(was.stages.stamp);
    expect(repo.git('status', '--porcelain', '--', 'pipeline.lock', '.manifest.json').split('\n').map((l) => l.trim()).sort()).toEqual(['M .manifest.json', 'M pipeline.lock']);
  });
});
