import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { dvcl, json } from './helpers/cli.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const EXAMPLE = fs.readFileSync(path.join(ROOT, '.pipelinerc.example'), 'utf8');
const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-example-')));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('.pipelinerc.example', () => {
  it('is a valid pipeline that dvcl loads as it is', () => {
    fs.writeFileSync(path.join(dir, '.pipelinerc'), EXAMPLE);
    fs.writeFileSync(path.join(dir, 'params.yaml'), 'prepare:\n  split: 0.2\n  seed: 1\nparse:\n  strict: true\n');
    fs.mkdirSync(path.join(dir, 'config'));
    fs.writeFileSync(path.join(dir, 'config/model.json'), '{"model": {"depth": 3}}\n');
    const r = dvcl(dir, ['dag', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const dag = json(r);
    expect(dag.nodes.map((n: { name: string }) => n.name)).toEqual(['prepare', 'parse', 'report']);
    expect(dag.edges.map((e: { from: string; to: string }) => `${e.from}->${e.to}`).sort()).toEqual(['parse->report', 'prepare->report']);
  });

  it('shows every key of the contract, each with a comment', () => {
    const cfg = parse(EXAMPLE);
    expect(Object.keys(cfg).sort()).toEqual(['params', 'settings', 'stages', 'version']);
    expect(Object.keys(cfg.settings).sort()).toEqual(['cache', 'hash', 'jobs', 'max_attempts', 'remote', 'remote_options', 'run_cache', 'shell']);
    expect(Object.keys(cfg.settings.remote_options).sort()).toEqual(['endpoint', 'jobs', 'path_style', 'region']);
    for (const k of ['cache', 'run_cache', 'remote', 'remote_options', 'endpoint', 'region', 'path_style']) {
      expect(EXAMPLE.split('\n').find((l) => new RegExp(`^\\s+${k}:`).test(l)), `${k} has a comment on its line`).toMatch(/#/);
    }
    const stageKeys = new Set(Object.values(cfg.stages).flatMap((s) => Object.keys(s as object)));
    for (const k of ['desc', 'cmd', 'deps', 'params', 'outs', 'env', 'wdir', 'persist', 'frozen', 'always_changed', 'foreach', 'out']) {
      expect(stageKeys, k).toContain(k);
      const line = EXAMPLE.split('\n').find((l) => new RegExp(`^\\s+${k}:`).test(l));
      expect(line, `${k} has a comment on its line`).toMatch(/#/);
    }
  });
});
