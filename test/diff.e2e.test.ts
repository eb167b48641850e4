import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dvcl, json, type CliResult } from './helpers/cli.js';
import { cleanupRepos, pipelineRepo, type PipelineRepo } from './helpers/pipeline.js';

// `dvcl diff` and `dvcl params diff` through the built binary, on a real git repository.

afterEach(cleanupRepos);

const RC = `version: 1
stages:
  train:
    cmd: cat data.txt params.yaml > model.txt
    deps: [data.txt]
    params: [lr, epochs]
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

/** Committed: the pipeline (no lock), then its first run. In the working tree: lr 0.1 → 0.2, re-run, not committed. */
async function changedParam(): Promise<PipelineRepo> {
  const repo = await pipelineRepo(RC, { 'data.txt': 'one\n', 'params.yaml': 'lr: 0.1\nepochs: 3\n' });
  ok(repo.run('repro'));
  repo.commitAll('first run');
  repo.write('params.yaml', 'lr: 0.2\nepochs: 3\n');
  ok(repo.run('repro'));
  return repo;
}

describe('dvcl diff', () => {
  it('HEAD against the working tree: the re-run stages, the param old → new, the outs and deps that changed', async () => {
    const repo = await changedParam();
    const head = repo.git('rev-parse', 'HEAD');
    const text = ok(repo.run('diff')).stdout;
    expect(text).toContain(`HEAD (${head.slice(0, 10)}) → workspace`);
    expect(text).toMatch(/^ {2}train: re-run \(run \S+ → \S+\)$/m);
    expect(text).toContain('param params.yaml:lr 0.1 → 0.2');
    expect(text).toMatch(/out model\.txt xxh128:[0-9a-f]{8}… → xxh128:[0-9a-f]{8}…/);
    expect(text).toMatch(/^ {2}evaluate: re-run/m);
    expect(text).toMatch(/dep model\.txt xxh128:[0-9a-f]{8}… → xxh128:[0-9a-f]{8}…/);
    expect(text).toContain('Stages: 2 re-run, 0 added, 0 removed, 0 unchanged');

    const r = json(ok(repo.run('diff', '--json')));
    expect(r.a).toEqual({ rev: 'HEAD', commit: head, recorded: true });
    expect(r.b).toEqual({ rev: 'workspace', commit: null, recorded: true });
    const train = r.stages.find((s: any) => s.name === 'train');
    expect(train.change).toBe('rerun');
    expect(train.changes).toContainEqual({ code: 'param_changed', file: 'params.yaml', key: 'lr', old: 0.1, new: 0.2 });
    // Full hashes in JSON.
    expect(train.changes.find((c: any) => c.code === 'out_changed').new).toMatch(/^xxh128:[0-9a-f]{32}$/);
  });

  it('between two commits, and from a commit without a lock ("no pipeline recorded there": all added)', async () => {
    const repo = await changedParam();
    repo.commitAll('lr 0.2');
    const r = json(ok(repo.run('diff', 'HEAD~1', 'HEAD', '--json')));
    expect(r.stages.map((s: any) => [s.name, s.change])).toEqual([['evaluate', 'rerun'], ['train', 'rerun']]);
    expect(r.a.commit).toBe(repo.git('rev-parse', 'HEAD~1'));
    expect(r.b.commit).toBe(repo.git('rev-parse', 'HEAD'));

    const first = ok(repo.run('diff', 'HEAD~2', 'HEAD~1'));
    expect(first.stdout).toContain('HEAD~2: no pipeline recorded there');
    expect(first.stdout).toMatch(/^ {2}train: added$/m);
    expect(first.stdout).toContain('Stages: 0 re-run, 2 added, 0 removed, 0 unchanged');
    expect(first.stderr).toBe('');
    // Nothing changed: HEAD is what the working tree holds.
    expect(ok(repo.run('diff')).stdout).toMatch(/^No stage changed\.$/m);
  });

  it('an unknown revision: exit 2, naming it, nothing on stdout (JSON error with --json)', async () => {
    const repo = await changedParam();
    const r = repo.run('diff', 'no-such-branch');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown revision: no-such-branch');
    expect(r.stdout).toBe('');
    const j = repo.run('diff', 'HEAD', 'v9.9', '--json');
    expect(j.code).toBe(2);
    expect(json(j).error).toMatchObject({ code: 'config', message: 'unknown revision: v9.9' });
  });

  it('outside a git repository: exit 2 with the reason, for both commands', () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-nogit-')));
    try {
      fs.writeFileSync(path.join(dir, '.pipelinerc'), RC);
      for (const args of [['diff'], ['params', 'diff']]) {
        const r = dvcl(dir, args);
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/comparing revisions reads pipeline\.lock from git, and .* is not in a git repository/);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--md: a Markdown table to paste into a pull request', async () => {
    const repo = await changedParam();
    const md = ok(repo.run('diff', '--md')).stdout.split('\n');
    expect(md[0]).toMatch(/^\*\*dvcl diff\*\* `HEAD \([0-9a-f]{10}\)` → `workspace`: 2 re-run/);
    expect(md).toContain('| Stage | Change | Details |');
    expect(md).toContain('| --- | --- | --- |');
    expect(md.find((l) => l.startsWith('| train |'))).toMatch(/^\| train \| re-run \| param params\.yaml:lr 0\.1 → 0\.2<br>out model\.txt .* \|$/);
  });

  it('per-item stages: items added, removed, changed and failed, read from the manifest', async () => {
    const rc = `version: 1
settings:
  max_attempts: 1
stages:
  upper:
    foreach: in/*.txt
    out: out/\${stem}.out
    cmd: if grep -q FAIL \${item}; then exit 3; fi; tr a-z A-Z < \${item} > \${out}
`;
    const repo = await pipelineRepo(rc, { 'in/a.txt': 'a\n', 'in/b.txt': 'b\n', 'in/c.txt': 'c\n' });
    ok(repo.run('repro'));
    repo.commitAll('items');
    repo.git('rm', '-q', 'in/a.txt');
    repo.write('in/b.txt', 'bee\n');
    repo.write('in/c.txt', 'FAIL\n');
    repo.write('in/d.txt', 'd\n');
    expect(repo.run('repro').code).toBe(1); // c failed
    const text = ok(repo.run('diff')).stdout;
    expect(text).toContain('upper: failed (1 item failed), 3 → 3 items: 1 added, 1 removed, 2 changed, 1 failed (1 newly)');
    expect(text).toContain('added: in/d.txt');
    expect(text).toContain('removed: in/a.txt');
    expect(text).toContain('changed: in/b.txt, in/c.txt');
    expect(text).toContain('failed: in/c.txt');
    const r = json(ok(repo.run('diff', '--json')));
    expect(r.items).toEqual([{ stage: 'upper', count: { old: 3, new: 3 }, added: ['in/d.txt'], removed: ['in/a.txt'], changed: ['in/b.txt', 'in/c.txt'], failed: ['in/c.txt'], newly_failed: 1 }]);
    expect(r.failed).toEqual([{ name: 'upper', reason: '1 item failed', newly: true }]);
    const md = ok(repo.run('diff', '--md')).stdout;
    expect(md).toContain('| upper | 3 → 3 | 1 | 1 | 2 | 1 (1 newly) |');
    expect(md).toContain('| upper | failed | 1 item failed |');
  });
});

describe('dvcl params diff', () => {
  it('Path, Param, HEAD, workspace columns for the params that changed; --all, --md, --json', async () => {
    const repo = await changedParam();
    expect(ok(repo.run('params', 'diff')).stdout.split('\n')).toEqual([
      'Path         Param  HEAD  workspace  Stages',
      'params.yaml  lr     0.1   0.2        train',
      '',
    ]);
    const all = ok(repo.run('params', 'diff', '--all')).stdout;
    expect(all).toMatch(/^params\.yaml {2}epochs +3 +3 +train$/m);
    expect(ok(repo.run('params', 'diff', '--md')).stdout).toContain('| params.yaml | lr | `0.1` | `0.2` | train |');
    const r = json(ok(repo.run('params', 'diff', '--json')));
    expect(r.params).toEqual([{ file: 'params.yaml', key: 'lr', change: 'modified', old: 0.1, new: 0.2, stages: ['train'] }]);

    repo.commitAll('lr 0.2');
    const first = ok(repo.run('params', 'diff', 'HEAD~2', 'HEAD~1')).stdout;
    expect(first).toContain('HEAD~2: no pipeline recorded there');
    expect(first).toMatch(/^params\.yaml {2}lr +- +0\.1 +train$/m);
    expect(ok(repo.run('params', 'diff')).stdout).toMatch(/^No param changed between HEAD \([0-9a-f]{10}\) and workspace\.$/m);
    expect(repo.run('params', 'diff', 'nope').code).toBe(2);
  });
});
