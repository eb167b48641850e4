// What only a separate process shows: which modules the store loads, what it prints, and a kill -9 mid-put.
// Runs the built modules in dist/ (`npm test` builds first; else run `npm run build`).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const STORE = path.join(ROOT, 'dist/core/store');
const MODULES = ['object-store', 'folder-store', 'files', 'pool', 'transfer', 'missing', 'remote', 's3-errors', 's3-store'];
const url = (m: string) => JSON.stringify(new URL(`file://${path.join(STORE, `${m}.js`)}`).href);

// A resolve hook (module.register) refusing every AWS SDK and Smithy package: any import of one,
// static or dynamic, from any module, fails with "loaded <specifier>".
const HOOK = `export async function resolve(specifier, context, next) {
  if (/^@(aws-sdk|smithy)\\//.test(specifier)) throw new Error('loaded ' + specifier);
  return next(specifier, context);
}`;
const REGISTER = `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOK)}));`;

function node(script: string, opts: { hook?: boolean; cwd?: string } = {}) {
  const args = [...(opts.hook ? ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`] : []), '--input-type=module', '-e', script];
  return spawnSync(process.execPath, args, { cwd: opts.cwd ?? ROOT, encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH, HOME: process.env.HOME } });
}

let tmp: string;
beforeAll(() => {
  if (!fs.existsSync(path.join(STORE, 'remote.js'))) throw new Error('dist/core/store is not built: run `npm run build`');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-store-proc-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('the AWS SDK is loaded only by an S3 remote', () => {
  it('importing every store module and using a folder remote loads no @aws-sdk or @smithy package', () => {
    const remote = path.join(tmp, 'remote');
    fs.mkdirSync(remote);
    fs.writeFileSync(path.join(tmp, 'data.txt'), 'hello');
    const r = node(`
      for (const m of [${MODULES.map(url).join(', ')}]) await import(m);
      const { openRemote } = await import(${url('remote')});
      const { pushObject, fetchObject } = await import(${url('transfer')});
      const { missingObjects } = await import(${url('missing')});
      const { createHasher } = await import(${JSON.stringify(`file://${path.join(ROOT, 'dist/core/hashing/algorithms.js')}`)});
      const hash = 'xxh128:' + (await createHasher('xxh128')).init().update('hello').digest('hex');
      const store = await openRemote(${JSON.stringify(remote)}, {}, { cwd: ${JSON.stringify(tmp)} });
      await pushObject(store, hash, ${JSON.stringify(path.join(tmp, 'data.txt'))});
      await fetchObject(store, hash, ${JSON.stringify(path.join(tmp, 'back.txt'))});
      console.log('folder ok, missing: ' + (await missingObjects(store, [hash])).length);
      // The control: the hook does catch the SDK when an S3 remote is opened.
      await openRemote('s3://bucket/prefix', {}, { cwd: '/' }).then(() => console.log('s3 opened'), (e) => console.log('s3: ' + e.message));
    `, { hook: true });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('folder ok, missing: 0\ns3: loaded @aws-sdk/client-s3\n');
    expect(fs.readFileSync(path.join(tmp, 'back.txt'), 'utf8')).toBe('hello');
  });
});

describe("the SDK's Node version warning", () => {
  const major = Number(process.versions.node.split('.')[0]);

  it('is not printed when an S3 remote is opened; other warnings are, and the environment is left as it was', () => {
    const r = node(`
      const { openRemote } = await import(${url('remote')});
      const store = await openRemote('s3://bucket/prefix', { endpoint: 'http://127.0.0.1:9' }, { cwd: '/' });
      await store.close();
      process.emitWarning('something else', 'OtherWarning');
      console.log(String(process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED));
    `);
    expect(r.stdout).toBe('undefined\n');
    expect(r.stderr).not.toContain('NodeVersionSupportWarning');
    expect(r.stderr).toContain('OtherWarning: something else');
  });

  it.runIf(major < 22)('(the control: a client made directly does print it on this Node)', () => {
    const r = node(`const { S3Client } = await import('@aws-sdk/client-s3'); new S3Client({ region: 'us-east-1' });`);
    expect(r.stderr).toContain('NodeVersionSupportWarning');
  });
});

describe('a folder put killed with SIGKILL', () => {
  it('leaves nothing at the final key: only a temporary that list and head ignore', async () => {
    const remote = path.join(tmp, 'killed remote');
    fs.mkdirSync(remote);
    const key = `dvcl/v1/objects/xxh128/ab/${'c'.repeat(30)}`;
    // A source that never ends in time: the put is always mid-copy when the kill comes.
    const child = spawn(process.execPath, ['--input-type=module', '-e', `
      import { Readable } from 'node:stream';
      const { openRemote } = await import(${url('remote')});
      const store = await openRemote(${JSON.stringify(remote)}, {}, { cwd: '/' });
      let n = 0;
      const slow = new Readable({ read() { setTimeout(() => this.push(n++ < 100000 ? Buffer.alloc(65536, 7) : null), 2); } });
      await store.put(${JSON.stringify(key)}, { size: 65536 * 100000, open: () => slow });
    `], { cwd: ROOT, stdio: 'ignore' });
    const dir = path.join(remote, path.dirname(key));
    const deadline = Date.now() + 20_000;
    let tmpFile: string | undefined;
    while (Date.now() < deadline) {
      tmpFile = fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => f.includes('.tmp-')) : undefined;
      if (tmpFile && fs.statSync(path.join(dir, tmpFile)).size > 1_000_000) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    expect(await exited).toBe(null);
    expect(tmpFile).toBeDefined();
    expect(fs.readdirSync(dir)).toEqual([tmpFile]);
    expect(fs.existsSync(path.join(remote, key))).toBe(false);

    const { openRemote } = await import('../../src/core/store/remote.js');
    const store = await openRemote(remote, {}, { cwd: tmp });
    expect(await store.head(key)).toBeNull();
    const listed = [];
    for await (const o of store.list('')) listed.push(o);
    expect(listed).toEqual([]);
  });
});
