// The local object cache (.dvcl/objects/), filled by repro; the settings that drive sharing; the
// restore plan's rules about the user's files. In-process, on real git repositories.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupRepos, pipelineRepo } from '../helpers/pipeline.js';
import { repro } from '../../src/core/services/repro.js';
import { loadConfig } from '../../src/core/config/load.js';
import { openProject } from '../../src/core/services/project.js';
import { LocalCache } from '../../src/core/store/local-cache.js';
import { recordedOutputs } from '../../src/core/store/recorded.js';
import { parseTree } from '../../src/core/store/tree.js';
import { checkout } from '../../src/core/services/checkout.js';
import { DvclError } from '../../src/core/errors.js';

afterEach(cleanupRepos);

const RC = (settings = '') => `version: 1
${settings}stages:
  make:
    cmd: mkdir -p d/sub && printf one > d/x.txt && printf two > d/sub/y.txt && printf top > f.txt && ln -sf ../nowhere d/link
    outs: [d, f.txt]
  up:
    foreach: in/*.txt
    out: out/\${stem}.txt
    cmd: tr a-z A-Z < \${item} > \${out}
`;
const FILES = { 'in/a.txt': 'alpha\n', 'in/b c.txt': 'beta\n' };

async function ran(settings = '') {
  const repo = await pipelineRepo(RC(settings), FILES);
  const r = await repro({ cwd: repo.dir });
  expect(r.ok).toBe(true);
  return repo;
}

describe('repro fills the local cache', () => {
  it('with each out it records (a folder as its files and its tree) and each item output', async () => {
    const repo = await ran();
    const p = await openProject({ cwd: repo.dir, readOnly: true });
    const cache = LocalCache.of(p.stateDir);
    const outs = recordedOutputs(p.cfg, p.lock, p.manifest.data);
    expect(outs.map((o) => [o.path, o.kind, o.stage])).toEqual([
      ['d', 'dir', 'make'], ['f.txt', 'file', 'make'], ['out/a.txt', 'file', 'up'], ['out/b c.txt', 'file', 'up'],
    ]);
    for (const o of outs) expect(cache.has(o.hash), o.path).toBe(true);
    expect(fs.readFileSync(cache.file(outs[1].hash), 'utf8')).toBe('top');
    expect(fs.readFileSync(cache.file(outs[3].hash), 'utf8')).toBe('BETA\n');
    const tree = cache.readText(outs[0].hash)!;
    expect(p.hasher.hashString(tree)).toBe(outs[0].hash); // the tree object is its own proof
    const entries = parseTree(tree)!;
    expect(entries.map((e) => e.rel)).toEqual(['link', 'sub/y.txt', 'x.txt']);
    expect(entries[0]).toEqual({ rel: 'link', link: '../nowhere' });
    for (const e of entries) if (e.hash) expect(cache.has(e.hash)).toBe(true);
  });

  it('not with settings.cache: false', async () => {
    const repo = await ran('settings:\n  cache: false\n');
    expect(fs.existsSync(path.join(repo.dir, '.dvcl/objects'))).toBe(false);
  });

  it('an object already there is not written again', async () => {
    const repo = await ran();
    const p = await openProject({ cwd: repo.dir, readOnly: true });
    const file = LocalCache.of(p.stateDir).file(p.lock.stages.make.outs[1].hash);
    const before = fs.statSync(file).ino;
    expect((await repro({ cwd: repo.dir, force: true, targets: ['make'], single: true })).ok).toBe(true);
    expect(fs.statSync(file).ino).toBe(before);
  });
});

describe('settings: cache, remote, remote_options', () => {
  const bad = async (settings: string, message: RegExp, local?: string) => {
    const repo = await pipelineRepo(`version: 1\nsettings:\n${settings}stages: {}\n`, local ? { '.pipelinerc.local': local } : {});
    let err: unknown;
    try {
      loadConfig({ cwd: repo.dir });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DvclError);
    expect((err as DvclError).exit).toBe(2);
    expect((err as Error).message).toMatch(message);
  };
  it('cache must be true or false', () => bad('  cache: 3\n', /^\.pipelinerc:3:10: settings\.cache: must be true or false/));
  it('remote must be a usable URL', () => bad('  remote: ftp://x/y\n', /^\.pipelinerc:3:11: settings\.remote: remote "ftp:\/\/x\/y": unknown scheme ftp:\/\//));
  it('remote must be a string', () => bad('  remote: [a]\n', /settings\.remote: must be a string/));
  it('remote_options: unknown key, positioned', () => bad('  remote_options:\n    endpint: http://x\n', /^\.pipelinerc:4:14: settings\.remote_options\.endpint: unknown option/));
  it('remote_options: a bad endpoint', () => bad('  remote_options: {endpoint: "localhost:9000"}\n', /settings\.remote_options\.endpoint: must be an http/));
  it('in .pipelinerc.local too', () => bad('', /^\.pipelinerc\.local:2:11: settings\.remote: remote "s3:\/\/": no bucket/, 'settings:\n  remote: "s3://"\n'));

  it('shared and local remotes are kept apart, the local options over the shared ones', async () => {
    const repo = await pipelineRepo('version: 1\nsettings:\n  remote: s3://team/p\n  remote_options: {endpoint: "http://a:1", region: eu-west-1}\nstages: {}\n',
      { '.pipelinerc.local': 'settings:\n  remote: /mnt/mine\n  remote_options: {endpoint: "http://b:2"}\n' });
    const cfg = loadConfig({ cwd: repo.dir });
    expect(cfg.remote).toEqual({ shared: { remote: 's3://team/p', options: { endpoint: 'http://a:1', region: 'eu-west-1' } }, local: { remote: '/mnt/mine', options: { endpoint: 'http://b:2' } } });
    expect(cfg.settings.cache).toBe(true);
  });
});

describe('checkout: the user\'s files are never overwritten', () => {
  it('an edited file is listed and kept; a file dvcl placed earlier is replaced; --force overwrites', async () => {
    const repo = await ran();
    fs.writeFileSync(path.join(repo.dir, 'f.txt'), 'mine');
    fs.writeFileSync(path.join(repo.dir, 'd/x.txt'), 'mine too');
    fs.writeFileSync(path.join(repo.dir, 'd/extra.txt'), 'a file of mine in the folder');
    fs.rmSync(path.join(repo.dir, 'out'), { recursive: true });
    const r = await checkout({ cwd: repo.dir });
    expect(r.failed.map((f) => f.path)).toEqual(['d/extra.txt', 'd/x.txt', 'f.txt']);
    expect(r.failed[2].reason).toMatch(/modified since dvcl recorded it.*--force/);
    expect(r.placed).toEqual(['out/a.txt', 'out/b c.txt']);
    expect(repo.read('f.txt')).toBe('mine');
    expect(repo.read('d/extra.txt')).toBe('a file of mine in the folder');
    expect(repo.read('out/b c.txt')).toBe('BETA\n');

    const f = await checkout({ cwd: repo.dir, force: true });
    expect(f.failed).toEqual([]);
    expect(repo.read('f.txt')).toBe('top');
    expect(repo.read('d/x.txt')).toBe('one');
    expect(repo.exists('d/extra.txt')).toBe(false);
    expect(fs.readlinkSync(path.join(repo.dir, 'd/link'))).toBe('../nowhere');
  });

  it('an object missing from the cache is listed, with the way to get it', async () => {
    const repo = await ran();
    fs.rmSync(path.join(repo.dir, '.dvcl/objects'), { recursive: true });
    fs.rmSync(path.join(repo.dir, 'f.txt'));
    const r = await checkout({ cwd: repo.dir, targets: ['make'] });
    expect(r.failed).toEqual([
      { path: 'd', reason: 'its tree object is not in the local cache (`dvcl pull` fetches it)' },
      { path: 'f.txt', reason: 'not in the local cache (`dvcl pull` fetches it from the remote)' },
    ]);
  });

  it('a cached object whose content is not its hash is never placed, and is removed from the cache', async () => {
    const repo = await ran();
    const p = await openProject({ cwd: repo.dir, readOnly: true });
    const hash = p.lock.stages.make.outs[1].hash;
    const cache = LocalCache.of(p.stateDir);
    fs.writeFileSync(cache.file(hash), 'tampered');
    fs.rmSync(path.join(repo.dir, 'f.txt'));
    const r = await checkout({ cwd: repo.dir, targets: ['make'] });
    expect(r.failed).toEqual([{ path: 'f.txt', reason: expect.stringMatching(new RegExp(`object ${hash} is corrupt`)) }]);
    expect(repo.exists('f.txt')).toBe(false);
    expect(fs.readdirSync(repo.dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
    expect(cache.has(hash)).toBe(false);
  });

  it('an unknown stage is a usage error', async () => {
    const repo = await ran();
    await expect(checkout({ cwd: repo.dir, targets: ['nope'] })).rejects.toMatchObject({ exit: 2, message: 'unknown stage "nope"' });
  });
});

describe('tree objects', () => {
  it('names with newlines, quotes and NUL-free unicode parse back; paths leading out are refused', () => {
    const text = `a\nb\0xxh128:${'0'.repeat(32)}\nq"uote é\0link:${JSON.stringify('t\nx')}\n`;
    expect(parseTree(text)).toEqual([{ rel: 'a\nb', hash: `xxh128:${'0'.repeat(32)}` }, { rel: 'q"uote é', link: 't\nx' }]);
    for (const rel of ['../x', '/abs', 'a//b', 'a/./b', '.git/config', 'x/.dvcl/y', '']) {
      expect(parseTree(`${rel}\0xxh128:${'0'.repeat(32)}\n`), rel).toBeNull();
    }
    expect(parseTree('no nul\n')).toBeNull();
    expect(parseTree(`a\0not-a-hash\n`)).toBeNull();
    expect(parseTree('')).toEqual([]);
  });
});
