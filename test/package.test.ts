import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// What `npm publish` would upload, and the package as a consumer resolves it by name. Needs the build
// (`npm test` builds first): --ignore-scripts keeps `npm pack` from running prepack's build itself.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

let shipped = new Set<string>();
let consumer = '';

beforeAll(() => {
  const out = execFileSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  shipped = new Set((JSON.parse(out) as [{ files: { path: string }[] }])[0].files.map((f) => f.path));
  // A project that depends on dvcl: node_modules/dvcl is this package, so `require('dvcl')` goes through exports.
  consumer = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-consumer-')));
  fs.mkdirSync(path.join(consumer, 'node_modules'));
  fs.symlinkSync(ROOT, path.join(consumer, 'node_modules', 'dvcl'), 'dir');
  fs.writeFileSync(path.join(consumer, 'package.json'), '{"name": "consumer", "private": true}\n');
  fs.writeFileSync(path.join(consumer, 'in.txt'), 'one');
}, 60_000);
afterAll(() => fs.rmSync(consumer, { recursive: true, force: true }));

describe('the npm package', () => {
  it('ships the CLI, both library builds, the oclif manifest and the licence, and no sources or tests', () => {
    const required = ['package.json', 'README.md', 'LICENSE', '.pipelinerc.example', 'oclif.manifest.json', 'bin/run.js',
      'dist/index.js', 'dist/index.d.ts', 'dist/cjs/index.cjs', 'dist/cjs/index.d.cts', 'dist/cli/execute.js'];
    expect(required.filter((f) => !shipped.has(f))).toEqual([]);
    const unwanted = [...shipped].filter((f) =>
      /^(test|src|bench|scripts|examples|node_modules|\.ci)\//.test(f) || /\.test\.|\.tgz$/.test(f) || (/\.[cm]?ts$/.test(f) && !/\.d\.c?ts$/.test(f)) || f === 'bin/dev.js');
    expect(unwanted).toEqual([]);
  });

  it('ships every file package.json and oclif.manifest.json point at', () => {
    const rel = (p: string) => path.posix.normalize(p);
    const targets = [pkg.main, pkg.types, ...Object.values(pkg.bin as Record<string, string>), pkg.oclif.helpClass];
    const walk = (v: unknown): void => {
      if (typeof v === 'string') targets.push(v);
      else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk(pkg.exports);
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8'));
    for (const c of Object.values(manifest.commands) as { relativePath: string[] }[]) targets.push(c.relativePath.join('/'));
    expect(targets.map(rel).filter((t) => !shipped.has(t))).toEqual([]);
    expect(Object.keys(manifest.commands).length).toBeGreaterThan(5);
    expect(pkg.bin).toEqual({ dvcl: 'bin/run.js' }); // as npm publish writes it: './bin/run.js' gets a warning
  });

  it("leaves no relative link in the shipped markdown pointing at a file that is not shipped", () => {
    const broken: string[] = [];
    for (const doc of [...shipped].filter((f) => f.endsWith('.md'))) {
      const text = fs.readFileSync(path.join(ROOT, doc), 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!.split('#')[0]!;
        if (!target || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // an anchor, or an absolute URL
        const file = path.posix.normalize(path.posix.join(path.posix.dirname(doc), target));
        if (!shipped.has(file) && ![...shipped].some((f) => f.startsWith(`${file.replace(/\/$/, '')}/`))) broken.push(`${doc}: ${m[1]}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('declares the repository the README and the registry link to, and the MIT licence it ships', () => {
    expect(pkg.license).toBe('MIT');
    expect(fs.readFileSync(path.join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} dvcl contributors\n/);
    const repo = /^git\+(https:\/\/github\.com\/[^/]+\/[^/]+)\.git$/.exec(pkg.repository?.url)?.[1];
    expect(repo).toBeTruthy();
    expect(pkg.homepage).toBe(`${repo}#readme`);
    expect(pkg.bugs?.url).toBe(`${repo}/issues`);
    expect(pkg.scripts.prepare).toBeUndefined(); // a consumer's install runs no script of ours
    expect(pkg.scripts.prepack).toMatch(/npm run build/);
  });
});

describe('the library as a dependency', () => {
  // The script a CommonJS user writes, as the README's Library section shows it for import.
  const script = `
    const fs = require('node:fs');
    const { Manifest, DvclError, EXIT } = require('dvcl');
    (async () => {
      const m = await Manifest.load({ stage: 'parse' });
      const before = m.shouldProcess('in.txt');
      m.recordSuccess('in.txt');
      m.save();
      const again = (await Manifest.load({ stage: 'parse' })).shouldProcess('in.txt');
      const data = JSON.parse(fs.readFileSync('.manifest.json', 'utf8'));
      console.log(JSON.stringify({
        resolved: require.resolve('dvcl'), before, again, stats: m.statistics(),
        versions: Object.values(data.runs).map((r) => r.dvcl),
        error: new DvclError('config', 'x').exit, exit: EXIT.config,
      }));
    })().catch((e) => { console.error(e); process.exit(1); });`;

  it('works with require(), also on a Node that cannot require() an ES module (engines: >=20.17)', () => {
    // Node 20.19+ would load dist/index.js through require(esm); turn that off to behave as 20.17/20.18.
    const flags = 'require_module' in process.features ? ['--no-experimental-require-module'] : [];
    fs.rmSync(path.join(consumer, '.manifest.json'), { force: true });
    const r = spawnSync(process.execPath, [...flags, '-e', script], { cwd: consumer, encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ before: true, again: false, stats: { total: 1, success: 1 }, versions: [pkg.version], error: 2, exit: 2 });
    expect(fs.realpathSync(out.resolved)).toBe(path.join(ROOT, 'dist/cjs/index.cjs'));
  });

  it('exports the same names to import and to require()', () => {
    const code = `import * as esm from 'dvcl'; import { createRequire } from 'node:module';
      const cjs = createRequire(import.meta.url)('dvcl');
      console.log(JSON.stringify({ esm: Object.keys(esm).sort(), cjs: Object.keys(cjs).sort() }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: consumer, encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    const { esm, cjs } = JSON.parse(r.stdout);
    expect(esm).toContain('Manifest');
    expect(cjs).toEqual(esm);
  });

  it('has declarations a CommonJS TypeScript project can use (module node16, no skipLibCheck)', () => {
    fs.writeFileSync(path.join(consumer, 'use.cts'), [
      "import dvcl = require('dvcl');",
      'export async function total(): Promise<number> { return (await dvcl.Manifest.load({ stage: "s" })).statistics().total; }',
      'export const bad: string = dvcl.EXIT.config;', // must be the one error: the types are real, not any
    ].join('\n'));
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'node16', '--target', 'es2022', '--lib', 'es2022', '--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules/@types'), 'use.cts'],
      { cwd: consumer, encoding: 'utf8', timeout: 60_000 });
    const errors = r.stdout.split('\n').filter((l) => /error TS/.test(l));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^use\.cts\(3,14\): error TS2322/);
  });
});
