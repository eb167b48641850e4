import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, cliEnv, dvcl } from './helpers/cli.js';
import { cleanupRepos, pipelineRepo } from './helpers/pipeline.js';

// Issue 17, start-up: the V8 code cache (src/cli/boot.ts) is only an optimisation. Whatever state
// it is in, the command prints what it prints without it.

const RC = 'version: 1\nstages:\n  a:\n    cmd: cp in.txt out.txt\n    deps: [in.txt]\n    outs: [out.txt]\n';
const temps: string[] = [];
afterEach(async () => {
  for (const dir of temps.splice(0)) {
    fs.chmodSync(dir, 0o755);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await cleanupRepos();
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-code-cache-'));
  temps.push(dir);
  return dir;
}

const cacheFiles = (dir: string) => (fs.existsSync(path.join(dir, 'v8')) ? fs.readdirSync(path.join(dir, 'v8')) : []);

describe('the code cache', () => {
  it('is written by the first run of a command that succeeds and read, not rewritten, by the next', async () => {
    const repo = await pipelineRepo(RC, { 'in.txt': 'x\n' });
    const cache = tempDir();
    // A run that stops at an error compiled only part of the command: it leaves no cache.
    expect(dvcl(tempDir(), ['status'], { env: { DVCL_CODE_CACHE_DIR: cache } }).code).toBe(2);
    expect(cacheFiles(cache)).toEqual([]);
    const first = dvcl(repo.dir, ['status'], { env: { DVCL_CODE_CACHE_DIR: cache } });
    expect(first.code, first.stderr).toBe(0);
    const [file] = cacheFiles(cache);
    expect(file).toMatch(/-status-[0-9a-f]{16}\.v8$/);
    const written = fs.statSync(path.join(cache, 'v8', file)).mtimeMs;
    const second = dvcl(repo.dir, ['status'], { env: { DVCL_CODE_CACHE_DIR: cache } });
    expect(second).toEqual(first);
    expect(fs.statSync(path.join(cache, 'v8', file)).mtimeMs).toBe(written);
  });

  it('that is corrupt or cut short is ignored and replaced: same output, exit status 0', async () => {
    const repo = await pipelineRepo(RC, { 'in.txt': 'x\n' });
    const cache = tempDir();
    const env = { DVCL_CODE_CACHE_DIR: cache };
    const expected = dvcl(repo.dir, ['status'], { env });
    expect(expected.code, expected.stderr).toBe(0);
    expect(expected.stdout).toMatch(/a/);
    const file = path.join(cache, 'v8', cacheFiles(cache)[0]);
    const good = fs.readFileSync(file);
    // Flipped bytes in the middle: V8 would abort the process deserializing them; a cut: V8's own length check.
    const flipped = Buffer.from(good);
    for (let i = flipped.length >> 1; i < (flipped.length >> 1) + 64; i++) flipped[i] ^= 0xa5;
    for (const damaged of [flipped, good.subarray(0, good.length >> 1), Buffer.from('not a cache')]) {
      fs.writeFileSync(file, damaged);
      const r = dvcl(repo.dir, ['status'], { env });
      expect(r).toEqual(expected);
      expect(fs.readFileSync(file).equals(damaged)).toBe(false); // rewritten whole
    }
  });

  it('in a folder that cannot be written costs nothing but the cache', async () => {
    const repo = await pipelineRepo(RC, { 'in.txt': 'x\n' });
    const readOnly = tempDir();
    fs.chmodSync(readOnly, 0o555);
    const blocked = path.join(tempDir(), 'a-file');
    fs.writeFileSync(blocked, ''); // a cache folder under a file: ENOTDIR, even for root
    const expected = dvcl(repo.dir, ['status'], { env: { DVCL_CODE_CACHE: '0' } });
    expect(expected.code, expected.stderr).toBe(0);
    for (const dir of [readOnly, path.join(blocked, 'dvcl')]) {
      const r = dvcl(repo.dir, ['status'], { env: { DVCL_CODE_CACHE_DIR: dir } });
      expect(r).toEqual(expected);
    }
    if (process.getuid?.() !== 0) expect(cacheFiles(readOnly)).toEqual([]);
  });
});

describe('--version', () => {
  it("prints oclif's own user agent without loading oclif, through a symlinked bin too (global installs)", () => {
    const cwd = tempDir();
    // With DEBUG set dvcl leaves --version to oclif; DEBUG=none enables no debug output.
    const oclif = dvcl(cwd, ['--version'], { env: { DEBUG: 'none' } });
    expect(oclif.code).toBe(0);
    expect(oclif.stdout).toBe(`dvcl/${JSON.parse(fs.readFileSync(path.join(BIN, '../../package.json'), 'utf8')).version} ${process.platform}-${os.arch()} node-${process.version}\n`);
    expect(dvcl(cwd, ['--version'])).toEqual(oclif);
    expect(dvcl(cwd, ['-v'])).toEqual(oclif);
    const link = path.join(cwd, 'dvcl');
    fs.symlinkSync(BIN, link);
    const viaLink = spawnSync(link, ['--version'], { cwd, env: cliEnv(), encoding: 'utf8' });
    expect(viaLink.stdout).toBe(oclif.stdout);
    const help = spawnSync(link, ['--help'], { cwd, env: cliEnv({ DVCL_CODE_CACHE_DIR: path.join(cwd, 'cache') }), encoding: 'utf8' });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain(`VERSION\n  ${oclif.stdout}`);
  });
});
