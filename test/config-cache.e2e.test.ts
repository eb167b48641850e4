// The parsed `.pipelinerc` is cached apart from the params it reads (src/core/config/load.ts): after
// a params-only edit, what dvcl reports must be what a fresh parse reports, values and errors alike.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupRepos, pipelineRepo } from './helpers/pipeline.js';

afterEach(() => cleanupRepos());

const RC = `version: 1
stages:
  train:
    cmd: echo train >> runs.log && cp data.txt model.txt
    deps: [data.txt]
    params: [lr, opt.momentum]
    outs: [model.txt]
`;

// The cache is written only for files older than git's racy-clean window (20 ms and more).
const settle = () => sleep(60);

describe('a params edit with .pipelinerc unchanged', () => {
  it('reads the new values, and reports a vanished key where .pipelinerc names it, as a fresh parse does', async () => {
    const repo = await pipelineRepo(RC, { 'data.txt': 'd\n', 'params.yaml': 'lr: 1\nopt:\n  momentum: 0.9\n' });
    await settle();
    expect(repo.run('repro').code).toBe(0);
    expect(repo.takeRuns()).toEqual(['train']);
    expect(repo.run('status', '--check').code).toBe(0); // the first run had no .dvcl/ to cache in
    expect(repo.exists('.dvcl/cache/config-stages')).toBe(true);

    repo.write('params.yaml', 'lr: 2\nopt:\n  momentum: 0.9\n');
    await settle();
    const st = repo.run('status', '--json');
    expect(JSON.parse(st.stdout).stages[0].reasons).toEqual([{ code: 'param_changed', key: 'lr', file: 'params.yaml', old: 1, new: 2 }]);
    expect(repo.run('repro').code).toBe(0);
    expect(repo.takeRuns()).toEqual(['train']);
    expect(repo.run('status', '--check').code).toBe(0);

    repo.write('params.yaml', 'lr: 2\nopt: {}\n');
    await settle();
    const cached = repo.run('status');
    fs.rmSync(path.join(repo.dir, '.dvcl/cache'), { recursive: true, force: true });
    const fresh = repo.run('status');
    expect(cached.code).toBe(2);
    expect(cached.stderr).toMatch(/parameter opt\.momentum is not in params\.yaml/);
    expect(cached.stderr).toMatch(/\.pipelinerc:6:/);
    expect({ code: cached.code, stderr: cached.stderr }).toEqual({ code: fresh.code, stderr: fresh.stderr });
  });
});
