// Sharing through an S3 remote (fauxqs, in this process, behind the counting fault proxy) with the
// built CLI: two clones, a push that finds everything there without one HEAD per object, remote
// failures as one message, kill -9 mid-pull, and the SDK never loaded by status or repro.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cliEnv, dvclSpawn, json, type CliResult } from './helpers/cli.js';
import { cleanupRepos, pipelineRepo, track, withShortcuts, type PipelineRepo } from './helpers/pipeline.js';
import { startFakeS3, type FakeS3 } from './helpers/s3.js';
import { isGetObject, isHead } from './helpers/fault-proxy.js';

let s3: FakeS3;
beforeAll(async () => { s3 = await startFakeS3(); });
afterAll(async () => { await s3?.stop(); });
afterEach(() => {
  s3.proxy.setFault(null);
  cleanupRepos();
});

// The CLI reads credentials as any AWS tool does: from its environment.
const ENV = { AWS_ACCESS_KEY_ID: 'test-key', AWS_SECRET_ACCESS_KEY: 'test-secret', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' };
// Spawned, not spawnSync: fauxqs answers from this process's event loop.
const run = (repo: { dir: string }, ...args: string[]): Promise<CliResult> => dvclSpawn(repo.dir, args, { env: ENV }).done;
const ok = async (p: Promise<CliResult>) => {
  const r = await p;
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return r;
};

const RC = (bucket: string, endpoint = s3.endpoint) => `version: 1
settings:
  remote: s3://${bucket}/team/project
  remote_options: {endpoint: "${endpoint}", jobs: 8}
stages:
  prepare:
    cmd: mkdir -p data && head -c 300000 /dev/urandom > data/blob.bin && printf 'small' > data/small.txt && echo prepare >> runs.log
    outs: [data]
  parse:
    foreach: in/*.txt
    out: parsed/\${stem}.out
    cmd: cat \${item} \${item} > \${out} && echo parse >> runs.log
`;

async function project(bucket: string, inputs = 3): Promise<PipelineRepo> {
  const files: Record<string, string> = { '.gitignore': '.dvcl/\nruns.log\ndata/\nparsed/\n' };
  for (let i = 0; i < inputs; i++) files[`in/${String(i).padStart(3, '0')}.txt`] = `input ${i}\n`;
  const a = await pipelineRepo(RC(bucket), files);
  await ok(run(a, 'repro'));
  a.commitAll('ran');
  a.takeRuns();
  return a;
}

function clone(repo: PipelineRepo): PipelineRepo {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-clone-')));
  const dir = path.join(base, 'b');
  expect(spawnSync('git', ['clone', '-q', repo.dir, dir]).status).toBe(0);
  const b = withShortcuts({
    dir, git: (...args) => spawnSync('git', args, { cwd: dir, encoding: 'utf8' }).stdout.trim(), write: (rel, t) => fs.writeFileSync(path.join(dir, rel), t),
    read: (rel) => fs.readFileSync(path.join(dir, rel), 'utf8'), exists: (rel) => fs.existsSync(path.join(dir, rel)), cleanup: () => fs.rmSync(base, { recursive: true, force: true }),
  });
  track(b);
  return b;
}

const statusOf = async (repo: PipelineRepo) => json((await run(repo, 'status', '--json')));

describe('two clones and an S3 remote', () => {
  it('A pushes; B clones and pulls: status up to date, repro runs nothing, per-item outputs too', async () => {
    const a = await project(s3.bucket());
    const pushed = json(await ok(run(a, 'push', '--json')));
    expect(pushed).toMatchObject({ transferred: 6, skipped: 0, failed: [] }); // blob, small, tree, 3 item outputs
    const b = clone(a);
    expect((await statusOf(b)).up_to_date).toBe(false);
    const pulled = json(await ok(run(b, 'pull', '--json', '-j', '4')));
    expect(pulled).toMatchObject({ transferred: 5, failed: [] });
    expect((await statusOf(b)).up_to_date).toBe(true);
    expect(fs.readFileSync(path.join(b.dir, 'data/blob.bin')).equals(fs.readFileSync(path.join(a.dir, 'data/blob.bin')))).toBe(true);
    expect(b.read('parsed/001.out')).toBe('input 1\ninput 1\n');
    const r = json(await ok(run(b, 'repro', '--json')));
    expect(r.stages.map((s: { result: string }) => s.result)).toEqual(['skipped', 'skipped']);
    expect(b.takeRuns()).toEqual([]);
  });

  it('a push that finds everything there asks by listing, not one HEAD per object', async () => {
    const a = await project(s3.bucket(), 80);
    await ok(run(a, 'push'));
    s3.proxy.clear();
    const again = json(await ok(run(a, 'push', '--json')));
    expect(again).toMatchObject({ transferred: 0, skipped: 83, failed: [] });
    expect(s3.proxy.count(isHead)).toBe(0);
    expect(s3.proxy.requests.length).toBeLessThanOrEqual(10);
  });
});

describe('remote failures: exit 1, one message naming the remote', () => {
  it('an unreachable endpoint', async () => {
    const a = await pipelineRepo(RC('bucket', 'http://127.0.0.1:9'));
    await ok(run(a, 'repro'));
    const r = await run(a, 'push');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: remote s3:\/\/bucket\/team\/project: .*127\.0\.0\.1:9/);
    expect(r.stderr.match(/^Error: /gm)).toHaveLength(1);
    expect(r.stderr).not.toContain('    at ');
  });

  it('credentials refused, and a bucket that does not exist', async () => {
    const a = await project(s3.bucket(), 1);
    s3.proxy.setFault(() => ({ kind: 'error', status: 403, code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist' }));
    const denied = await run(a, 'push');
    expect(denied.code).toBe(1);
    expect(denied.stderr.match(/^Error: /gm)).toHaveLength(1);
    expect(denied.stderr).toContain('remote s3://');
    s3.proxy.setFault(null);
    const none = await pipelineRepo(RC('no-such-bucket'));
    await ok(run(none, 'repro'));
    const r = await run(none, 'push');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no-such-bucket');
    expect(r.stderr).not.toContain('    at ');
  });
});

describe('kill -9 during pull', () => {
  it('leaves each file old or new, and the next pull finishes', async () => {
    const bucket = s3.bucket();
    const a = await project(bucket, 1);
    await ok(run(a, 'push'));
    const b = clone(a);
    await ok(run(b, 'pull'));
    const old = fs.readFileSync(path.join(b.dir, 'data/blob.bin'));
    // A new version of the big file, pushed.
    fs.appendFileSync(path.join(a.dir, 'in/000.txt'), 'changed\n');
    a.write('.pipelinerc', RC(bucket).replace('head -c 300000', 'head -c 2000000'));
    await ok(run(a, 'repro'));
    a.commitAll('bigger');
    await ok(run(a, 'push'));
    b.git('pull', '-q');
    // Downloads crawl: the kill comes mid-file.
    s3.proxy.setFault((r) => (isGetObject(r) ? { kind: 'slow', bytesPerSecond: 200_000 } : undefined));
    const child = spawn(process.execPath, [BIN, 'pull', '-j', '1'], { cwd: b.dir, env: cliEnv(ENV), stdio: 'ignore' });
    const dir = path.join(b.dir, 'data');
    const deadline = Date.now() + 30_000;
    let tmp: string | undefined;
    while (Date.now() < deadline) {
      tmp = fs.readdirSync(dir).find((n) => n.startsWith('blob.bin.tmp-'));
      if (tmp && fs.statSync(path.join(dir, tmp)).size > 100_000) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const exited = new Promise((r) => child.on('exit', (_code, signal) => r(signal)));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(tmp).toBeDefined();
    // The old file, whole; the new one only as a temporary.
    expect(fs.readFileSync(path.join(dir, 'blob.bin')).equals(old)).toBe(true);
    s3.proxy.setFault(null);
    const again = json(await ok(run(b, 'pull', '--json')));
    expect(again.failed).toEqual([]);
    expect(fs.readFileSync(path.join(dir, 'blob.bin')).equals(fs.readFileSync(path.join(a.dir, 'data/blob.bin')))).toBe(true);
    expect(fs.readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
    expect((await statusOf(b)).up_to_date).toBe(true);
  }, 60_000);
});

describe('the AWS SDK is loaded only by push, pull and gc --remote', () => {
  // A resolve hook refusing every AWS SDK and Smithy package (as test/store/process.test.ts does).
  const HOOK = `export async function resolve(s, c, next) { if (/^@(aws-sdk|smithy)\\//.test(s)) throw new Error('loaded ' + s); return next(s, c); }`;
  const REGISTER = `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOK)}));`;
  const hooked = (cwd: string, args: string[]) => new Promise<CliResult>((resolve) => {
    const child = spawn(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, BIN, ...args], { cwd, env: cliEnv(ENV) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });

  it('status, repro and checkout with an S3 remote configured do not load it; push does', async () => {
    const a = await project(s3.bucket(), 1);
    await ok(run(a, 'push'));
    fs.rmSync(path.join(a.dir, 'data'), { recursive: true });
    const st = await hooked(a.dir, ['status', '--json']);
    expect(st.stderr).toBe('');
    expect(json(st).stages[0].reasons[0]).toMatchObject({ code: 'out_missing', restorable: true });
    for (const args of [['checkout'], ['repro'], ['status', '--check', '--allow-missing']]) {
      const r = await hooked(a.dir, args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stderr).not.toContain('loaded @');
    }
    const push = await hooked(a.dir, ['push']);
    expect(push.stderr).toContain('loaded @aws-sdk/client-s3'); // the control: the hook does catch it
  });
});
