import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { json, type CliResult } from './helpers/cli.js';
import { cleanupRepos, pipelineRepo, type PipelineRepo } from './helpers/pipeline.js';

// Outputs of per-item inputs that were deleted or renamed (issue 12, point 11): the stage's set of
// outputs is what downstream reads, so an orphaned output goes when its item is dropped.

const RC = `version: 1
stages:
  pages:
    foreach: in/*.txt
    out: out/\${stem}.txt
    cmd: cp \${item} \${out}
  index:
    cmd: ls out > index.txt && echo index >> runs.log
    deps: [out]
    outs: [index.txt]
`;

const INPUTS = { 'in/a.txt': 'a\n', 'in/b.txt': 'b\n', 'in/c.txt': 'c\n' };

afterEach(cleanupRepos);

function ok(r: CliResult): CliResult {
  expect(r.code, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
  return r;
}

async function ranOnce(): Promise<PipelineRepo> {
  const repo = await pipelineRepo(RC, INPUTS);
  ok(repo.run('repro'));
  expect(repo.read('index.txt')).toBe('a.txt\nb.txt\nc.txt\n');
  repo.takeRuns();
  return repo;
}

const items = (repo: PipelineRepo) => Object.keys(JSON.parse(repo.read('.manifest.json')).stages.pages.items ?? {}).sort();

describe('outputs of deleted or renamed per-item inputs', () => {
  it('a deleted input: status and the dry run say so, repro removes its output and downstream re-runs', async () => {
    const repo = await ranOnce();
    fs.rmSync(path.join(repo.dir, 'in/b.txt'));

    const st = repo.status();
    expect(st.up_to_date).toBe(false);
    expect(st.stages.find((s) => s.name === 'pages')!.reasons).toContainEqual({ code: 'items_dropped', count: 1 });
    expect(st.stages.find((s) => s.name === 'index')).toMatchObject({ state: 'stale', reasons: [{ code: 'upstream_stale', stage: 'pages' }] });
    expect(ok(repo.run('status')).stdout).toContain('1 item to drop');

    const plan = json(ok(repo.run('repro', '--dry-run', '--json')));
    expect(plan.stages.find((s: any) => s.name === 'pages')).toMatchObject({ result: 'would_run', removed_outputs: ['out/b.txt'] });
    expect(plan.stages.find((s: any) => s.name === 'index')).toMatchObject({ result: 'would_run', may_skip: true });
    const human = ok(repo.run('repro', '--dry-run'));
    expect(human.stdout).toMatch(/pages would run.*1 item to drop/);
    expect(human.stdout).toContain('would remove out/b.txt');
    expect(repo.exists('out/b.txt')).toBe(true); // a dry run removes nothing

    const res = json(ok(repo.run('repro', '--json')));
    expect(res.stages.find((s: any) => s.name === 'pages')).toMatchObject({ result: 'ran', removed_outputs: ['out/b.txt'] });
    expect(res.stages.find((s: any) => s.name === 'index')).toMatchObject({ result: 'ran' });
    expect(repo.exists('out/b.txt')).toBe(false);
    expect(repo.read('index.txt')).toBe('a.txt\nc.txt\n');
    expect(repo.takeRuns()).toEqual(['index']);
    expect(items(repo)).toEqual(['in/a.txt', 'in/c.txt']);
    expect(repo.status().up_to_date).toBe(true);
  });

  it('a renamed input: the new name\'s output is made, the old one removed', async () => {
    const repo = await ranOnce();
    fs.renameSync(path.join(repo.dir, 'in/b.txt'), path.join(repo.dir, 'in/bee.txt'));

    const reasons = repo.status().stages.find((s) => s.name === 'pages')!.reasons;
    expect(reasons).toContainEqual({ code: 'items_pending', count: 1 });
    expect(reasons).toContainEqual({ code: 'items_dropped', count: 1 });

    const res = json(ok(repo.run('repro', '--json')));
    expect(res.stages.find((s: any) => s.name === 'pages')).toMatchObject({ result: 'ran', items: { ran: 1 }, removed_outputs: ['out/b.txt'] });
    expect(repo.exists('out/b.txt')).toBe(false);
    expect(repo.read('out/bee.txt')).toBe('b\n');
    expect(repo.read('index.txt')).toBe('a.txt\nbee.txt\nc.txt\n');
    expect(items(repo)).toEqual(['in/a.txt', 'in/bee.txt', 'in/c.txt']);
    expect(repo.status().up_to_date).toBe(true);
  });

  it('prune --deleted removes the output with the item, and downstream is then stale', async () => {
    const repo = await ranOnce();
    fs.rmSync(path.join(repo.dir, 'in/b.txt'));

    const dry = json(ok(repo.run('prune', '--deleted', '--dry-run', '--json')));
    expect(dry).toMatchObject({ dry_run: true, items: [{ stage: 'pages', item: 'in/b.txt' }], removed_outputs: ['out/b.txt'], kept_outputs: [] });
    expect(ok(repo.run('prune', '--deleted', '--dry-run')).stdout).toContain('would remove out/b.txt');
    expect(repo.exists('out/b.txt')).toBe(true);

    const done = json(ok(repo.run('prune', '--deleted', '--json')));
    expect(done).toMatchObject({ dry_run: false, items: [{ stage: 'pages', item: 'in/b.txt' }], removed_outputs: ['out/b.txt'], kept_outputs: [] });
    expect(repo.exists('out/b.txt')).toBe(false);
    expect(items(repo)).toEqual(['in/a.txt', 'in/c.txt']);

    const index = repo.status().stages.find((s) => s.name === 'index')!;
    expect(index.state).toBe('stale');
    expect(index.reasons).toContainEqual(expect.objectContaining({ code: 'dep_changed', path: 'out' }));
    ok(repo.run('repro'));
    expect(repo.read('index.txt')).toBe('a.txt\nc.txt\n');
    expect(repo.status().up_to_date).toBe(true);
  });

  it('an orphaned output modified since dvcl wrote it is kept, with a warning naming it', async () => {
    const repo = await ranOnce();
    repo.write('out/b.txt', 'my notes\n');
    fs.rmSync(path.join(repo.dir, 'in/b.txt'));

    const r = ok(repo.run('repro', '--json'));
    expect(r.stderr).toMatch(/warning: .*kept out\/b\.txt/);
    expect(json(r).stages.find((s: any) => s.name === 'pages')).toMatchObject({ removed_outputs: [], kept_outputs: ['out/b.txt'] });
    expect(repo.read('out/b.txt')).toBe('my notes\n');
    // The item is forgotten: the file is the user's now, and the next run does not warn again.
    expect(items(repo)).toEqual(['in/a.txt', 'in/c.txt']);
    const again = ok(repo.run('repro'));
    expect(again.stderr).not.toContain('out/b.txt');
    expect(repo.status().up_to_date).toBe(true);

    // prune --deleted keeps a modified output alike.
    repo.write('out/c.txt', 'edited\n');
    fs.rmSync(path.join(repo.dir, 'in/c.txt'));
    const p = ok(repo.run('prune', '--deleted', '--json'));
    expect(p.stderr).toMatch(/warning: .*kept out\/c\.txt/);
    expect(json(p)).toMatchObject({ removed_outputs: [], kept_outputs: ['out/c.txt'] });
    expect(repo.read('out/c.txt')).toBe('edited\n');
  });

  it('never removes through a folder that leads out of the project', async () => {
    const repo = await ranOnce();
    const outside = fs.mkdtempSync(path.join(path.dirname(repo.dir), 'dvcl-outside-'));
    try {
      fs.cpSync(path.join(repo.dir, 'out'), outside, { recursive: true });
      fs.rmSync(path.join(repo.dir, 'out'), { recursive: true });
      fs.symlinkSync(outside, path.join(repo.dir, 'out'));
      fs.rmSync(path.join(repo.dir, 'in/b.txt'));

      const r = repo.run('repro', '--json');
      expect(r.stderr).toMatch(/warning: .*kept out\/b\.txt.*outside the project/);
      expect(json(r).stages.find((s: any) => s.name === 'pages')).toMatchObject({ removed_outputs: [], kept_outputs: ['out/b.txt'] });
      expect(fs.readFileSync(path.join(outside, 'b.txt'), 'utf8')).toBe('b\n');
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('inputs that a stale upstream stage writes are not taken for deleted', async () => {
    const rc = `version: 1
stages:
  split:
    cmd: mkdir -p in && cp src/*.txt in/
    deps: [src]
    outs: [in]
${RC.split('stages:\n')[1]}`;
    const repo = await pipelineRepo(rc, { 'src/a.txt': 'a\n', 'src/b.txt': 'b\n', '.gitignore': '.dvcl/\nruns.log\nin/\n' });
    ok(repo.run('repro'));
    fs.rmSync(path.join(repo.dir, 'in'), { recursive: true }); // as in a fresh clone: git-ignored

    const pages = repo.status().stages.find((s) => s.name === 'pages')!;
    expect(pages.reasons).not.toContainEqual(expect.objectContaining({ code: 'items_dropped' }));
    const plan = json(ok(repo.run('repro', '--dry-run', '--json')));
    expect(plan.stages.find((s: any) => s.name === 'pages')).not.toHaveProperty('removed_outputs');
    ok(repo.run('repro'));
    expect(repo.read('index.txt')).toBe('a.txt\nb.txt\n');
  });
});
