// `repro STAGE --shard K/N` workers in separate clones, then `gather` (issue 15, points 4–5), with
// the built CLI against a folder remote and an in-process S3 server (fauxqs): a worker killed with
// SIGKILL and run again, one shard run twice at once, gathers that are byte-identical, and a fresh
// clone whose repro then runs nothing. Items append their stem to a counter file outside the repos.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dvclSpawn, json, type CliResult } from './helpers/cli.js';
import { cleanupRepos, cloneOf, pipelineRepo, tempDir, type PipelineRepo } from './helpers/pipeline.js';
import { startFakeS3, type FakeS3 } from './helpers/s3.js';
import { shardOf } from '../src/core/run/shard.js';

let s3: FakeS3;
beforeAll(async () => { s3 = await startFakeS3(); });
afterAll(async () => { await s3?.stop(); });
afterEach(cleanupRepos);

const ENV = { AWS_ACCESS_KEY_ID: 'test-key', AWS_SECRET_ACCESS_KEY: 'test-secret', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' };
const ITEMS = 24;

const clone = (repo: PipelineRepo) => cloneOf(repo.dir, 'dvcl-worker-');

const RC = (remote: string, options = '') => `version: 1
settings:
  remote: ${JSON.stringify(remote)}
${options}stages:
  list:
    cmd: ls in > list.txt
    deps: [in]
    outs: [list.txt]
  extract:
    foreach: in/*.txt
    out: out/\${stem}.up
    deps: [list.txt, tool.txt]
    cmd: tr a-z A-Z < \${item} > \${out} && echo \${stem} >> "$COUNTER" && if [ -n "$SLOW" ]; then sleep 0.2; fi
`;

interface Backend { name: string; remote(): string; options: string }
const backends: Backend[] = [
  { name: 'folder', remote: () => tempDir('dvcl-remote-'), options: '' },
  { name: 's3', remote: () => `s3://${s3.bucket()}/team`, options: '' },
];

async function origin(b: Backend): Promise<{ a: PipelineRepo; counter: string }> {
  const remote = b.remote();
  const opts = b.name === 's3' ? `  remote_options: {endpoint: "${s3.endpoint}", jobs: 4}\n` : '';
  const files: Record<string, string> = { 'tool.txt': 'v1\n', '.gitignore': '.dvcl/\nruns.log\nlist.txt\nout/\n.manifest.json.bak\n' };
  for (let i = 0; i < ITEMS; i++) files[`in/f${String(i).padStart(2, '0')}.txt`] = `item ${i}\n`;
  const a = await pipelineRepo(RC(remote, opts), files);
  const counter = path.join(tempDir('dvcl-counter-'), 'count');
  await ok(cli(a, counter, 'repro', 'list'));
  await ok(cli(a, counter, 'push'));
  a.commitAll('list ran');
  return { a, counter };
}

function cli(repo: PipelineRepo, counter: string, ...args: string[]): Promise<CliResult> {
  return spawnCli(repo, counter, {}, ...args).done;
}

function spawnCli(repo: PipelineRepo, counter: string, env: Record<string, string>, ...args: string[]) {
  return dvclSpawn(repo.dir, args, { env: { ...ENV, COUNTER: counter, ...env } });
}

async function ok(p: Promise<CliResult>): Promise<CliResult> {
  const r = await p;
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return r;
}

const lines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.each(backends)('shards on a $name remote', (b) => {
  it('workers in separate clones, one killed and re-run, one run twice at once; gather is complete, byte-identical twice, and a fresh clone runs nothing', async () => {
    const { a, counter } = await origin(b);
    const w = [1, 2, 3, 4].map(() => clone(a));
    const twin = clone(a);
    // Shard 3 runs slowly, flushes often, and is killed once some of its items are recorded.
    const slow = spawnCli(w[2], counter, { SLOW: '1', DVCL_SHARD_FLUSH_MS: '50' }, 'repro', 'extract', '--shard', '3/4', '--pull', '-j', '1');
    const others = [
      cli(w[0], counter, 'repro', 'extract', '--shard', '1/4', '--pull'),
      cli(w[1], counter, 'repro', 'extract', '--shard', '2/4', '--pull'),
      cli(twin, counter, 'repro', 'extract', '--shard', '2/4', '--pull'),
      cli(w[3], counter, 'repro', 'extract', '--shard', '4/4', '--pull', '--json'),
    ];
    // Killed once two of its own items have run (each takes 0.2 s), so it is mid-run.
    const ofShard3 = () => lines(counter).filter((stem) => shardOf(`in/${stem}.txt`, 4) === 3).length;
    await until(() => ofShard3() >= 2 || slow.child.exitCode !== null);
    await new Promise((r) => setTimeout(r, 150)); // a flush or two
    slow.child.kill('SIGKILL');
    const killed = await slow.done;
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    for (const r of await Promise.all(others)) expect(r.code, r.stderr).toBe(0);
    const last = json((await others[3]));
    expect(last.shard).toBe('4/4');
    // A worker's item outputs went to the remote; its clone (a pod's, a job's) keeps no second copy.
    const cached = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => path.join(dir, f)).filter((f) => fs.statSync(f).isFile()) : []);
    expect(w[0].read(`out/${lines(counter).find((stem) => shardOf(`in/${stem}.txt`, 4) === 1)}.up`)).toMatch(/^ITEM /);
    expect(cached(path.join(w[0].dir, '.dvcl/objects')).filter((f) => fs.readFileSync(f, 'utf8').startsWith('ITEM '))).toEqual([]);
    const again = await ok(cli(w[2], counter, 'repro', 'extract', '--shard', '3/4', '--pull'));
    expect(again.stderr).toMatch(/shard 3\/4 \(--shard\): \d+ of 24 items/);

    // Every item ran: once, but the one killed mid-run and the twin shard's (harmless) doubles.
    const ran = lines(counter);
    expect(new Set(ran).size).toBe(ITEMS);
    // The re-run of shard 3 resumed: of its items, only those in flight at the kill ran twice (the
    // item running and those queued in its resident shell).
    const path3 = (stem: string) => `in/${stem}.txt`;
    const twice = ran.filter((stem, i) => ran.indexOf(stem) !== i);
    const inShard = (k: number) => twice.filter((stem) => shardOf(path3(stem), 4) === k);
    expect(inShard(2).length + inShard(3).length, ran.sort().join(' ')).toBe(twice.length);
    expect(inShard(3).length, ran.sort().join(' ')).toBeLessThanOrEqual(3);
    // The twin of shard 2 runs its items again, or none of them when the other had sent them already.
    expect(inShard(2).length).toBeLessThanOrEqual(Array.from({ length: ITEMS }, (_, i) => `in/f${String(i).padStart(2, '0')}.txt`).filter((p) => shardOf(p, 4) === 2).length);

    const g = await ok(cli(a, counter, 'gather', '--json'));
    const st = json(g).stages[0];
    expect(st).toMatchObject({ stage: 'extract', complete: true, uncovered: 0, failed: 0, shard_count: 4, missing_shards: [] });
    expect(st.shards).toEqual([1, 2, 3, 4]);
    const manifest = a.manifest()!;
    const lock = a.lock()!;
    const records = JSON.parse(manifest).stages.extract.items;
    expect(Object.keys(records).sort()).toEqual(Array.from({ length: ITEMS }, (_, i) => `in/f${String(i).padStart(2, '0')}.txt`));
    expect(Object.values(records).every((r: any) => r.status === 'success')).toBe(true);
    expect(lock).toMatch(/extract:[\s\S]*items:\n\s+count: 24/);

    const second = await ok(cli(a, counter, 'gather'));
    expect(second.stdout).toContain('nothing new');
    expect(a.manifest()).toBe(manifest);
    expect(a.lock()).toBe(lock);

    a.commitAll('gathered');
    const fresh = clone(a);
    await ok(cli(fresh, counter, 'pull'));
    for (let i = 0; i < ITEMS; i++) expect(fresh.read(`out/f${String(i).padStart(2, '0')}.up`)).toBe(`ITEM ${i}\n`);
    const n = lines(counter).length;
    const r = json(await ok(cli(fresh, counter, 'repro', '--json')));
    expect(r.stages.find((s: any) => s.name === 'extract')).toMatchObject({ result: 'skipped', items: { ran: 0, total: ITEMS } });
    expect(lines(counter).length).toBe(n);
    expect(fresh.status().up_to_date).toBe(true);
  }, 120_000);
});

describe('shards: what is refused', () => {
  const folder = backends[0];

  it('gather refuses another commit\'s fragments and workers that saw other inputs; reports shards that sent nothing', async () => {
    const { a, counter } = await origin(folder);
    const committed = a.manifest();
    const w1 = clone(a);
    await ok(cli(w1, counter, 'repro', 'extract', '--shard', '1/3', '--pull'));
    // A damaged fragment (a worker killed mid-upload by a store without atomic puts) is named and skipped.
    const remote = JSON.parse(/remote: (".*")/.exec(a.read('.pipelinerc'))![1]) as string;
    const badKey = `dvcl/v1/fragments/extract/${a.git('rev-parse', 'HEAD')}/2of3-0123456789ab-000000.json`;
    fs.mkdirSync(path.dirname(path.join(remote, badKey)), { recursive: true });
    fs.writeFileSync(path.join(remote, badKey), '{"version": 1, "commit": "trunc');
    const withBad = await ok(cli(a, counter, 'gather', '--json', '--dry-run'));
    expect(withBad.stderr).toContain(`${badKey}: fragment ${badKey}: not JSON`);
    expect(json(withBad).stages[0].refused.map((x: { key: string }) => x.key)).toContain(badKey);
    fs.rmSync(path.join(remote, badKey));
    const partial = json(await ok(cli(a, counter, 'gather', '--json', '--dry-run'))).stages[0];
    expect(partial).toMatchObject({ complete: false, shards: [1], missing_shards: [2, 3], recorded: expect.any(Number) });
    expect(partial.uncovered).toBe(ITEMS - partial.recorded);
    expect(a.manifest()).toBe(committed); // a dry run writes nothing

    // A worker whose inputs differ (an edit not in the commit) cannot be mixed with the others.
    const w2 = clone(a);
    w2.write('tool.txt', 'v2\n');
    await ok(cli(w2, counter, 'repro', 'extract', '--shard', '2/3', '--pull'));
    const mixed = await cli(a, counter, 'gather');
    expect(mixed.code).toBe(1);
    expect(mixed.stderr).toMatch(/fragments of stage extract at [0-9a-f]{12} ran on different inputs/);
    expect(a.manifest()).toBe(committed);

    // At another commit, those fragments are not gathered: gather names the commit they belong to.
    const first = a.git('rev-parse', 'HEAD');
    a.write('README', 'x\n');
    a.commitAll('another commit');
    const other = await ok(cli(a, counter, 'gather'));
    expect(other.stdout).toMatch(/extract: no fragments for [0-9a-f]{12}/);
    expect(other.stderr).toContain(`of another commit, ${first.slice(0, 12)}: gather there`);
  }, 60_000);

  it('gather refuses what it cannot gather, with exit 2: a stage without foreach, no remote, no commit', async () => {
    const { a, counter } = await origin(folder);
    const notPerItem = await cli(a, counter, 'gather', 'list');
    expect(notPerItem.code).toBe(2);
    expect(notPerItem.stderr).toMatch(/list is not a per-item stage/);
    const noRemote = await pipelineRepo(RC('').replace(/settings:\n  remote: ""\n/, ''), { 'tool.txt': 'v1\n' });
    const r = await cli(noRemote, counter, 'gather');
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/remote/);
    const noCommit = tempDir('dvcl-nogit-');
    fs.writeFileSync(path.join(noCommit, '.pipelinerc'), RC(tempDir('dvcl-remote-')));
    const g = await dvclSpawn(noCommit, ['gather'], { env: ENV }).done;
    expect(g.code, g.stderr).toBe(2);
    expect(g.stderr).toMatch(/gather needs a git commit/);
  }, 60_000);

  it('a worker refuses what it cannot shard, with exit 2 and a hint', async () => {
    const { a, counter } = await origin(folder);
    const w = clone(a);
    const cases: [string[], RegExp][] = [
      [['repro', '--shard', '1/2'], /--shard runs one per-item stage: name it/],
      [['repro', 'list', '--shard', '1/2'], /stage list has no foreach/],
      [['repro', 'extract', '--shard', '3/2'], /K must be between 1 and 2/],
      [['repro', 'extract', '--shard', 'auto'], /no engine index found/],
      // list.txt is git-ignored: without --pull, the upstream stage is not up to date here.
      [['repro', 'extract', '--shard', '1/2'], /upstream stage list is not up to date[\s\S]*--pull/],
    ];
    for (const [args, msg] of cases) {
      const r = await cli(w, counter, ...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
    const k8s = await spawnCli(w, counter, { JOB_COMPLETION_INDEX: '1' }, 'repro', 'extract', '--shard', 'auto/2', '--pull').done;
    expect(k8s.code, k8s.stderr).toBe(0);
    expect(k8s.stderr).toMatch(/shard 2\/2 \(JOB_COMPLETION_INDEX=1\)/);
    expect(lines(counter).length).toBeGreaterThan(0);
  }, 60_000);
});

describe('repro --shard --dry-run', () => {
  it("plans the worker's partition only: its items, the resolved K/N; nothing runs, nothing reaches the remote", async () => {
    const folder = backends[0];
    const { a, counter } = await origin(folder);
    const w = clone(a);
    const remoteFiles = () => fs.readdirSync(path.join(a.read('.pipelinerc').match(/remote: "(.*)"/)![1], 'dvcl/v1'));
    const before = remoteFiles();
    const mine = Array.from({ length: ITEMS }, (_, i) => `in/f${String(i).padStart(2, '0')}.txt`).filter((p) => shardOf(p, 3) === 2);
    const r = await ok(cli(w, counter, 'repro', 'extract', '--shard', '2/3', '--pull', '--dry-run', '--json'));
    const plan = json(r);
    expect(plan.shard).toBe('2/3');
    expect(plan.stages.map((st: { name: string; result: string }) => [st.name, st.result])).toEqual([['extract', 'would_run']]);
    expect(plan.stages[0].items).toMatchObject({ total: mine.length, ran: mine.length });
    expect(plan.stages[0].reasons.map((x: { code: string }) => x.code)).not.toContain('items_dropped');
    expect(r.stderr).toContain(`shard 2/3 (--shard): ${mine.length} of ${ITEMS} items, ${mine.length} to run (dry run)`);
    expect(lines(counter)).toEqual([]);
    expect(remoteFiles()).toEqual(before); // no fragments
    expect(w.exists('out')).toBe(false);
    // The worker's refusals hold for its plan: an upstream stage not up to date here, without --pull.
    const refused = await cli(w, counter, 'repro', 'extract', '--shard', '2/3', '--dry-run');
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/upstream stage list is not up to date/);
  }, 60_000);
});

describe('shards: inputs that go, and folders as item outputs', () => {
  it('a later commit without some inputs: gather drops their records and keeps the rest', async () => {
    const { a, counter } = await origin(backends[0]);
    for (const k of [1, 2]) await ok(cli(clone(a), counter, 'repro', 'extract', '--shard', `${k}/2`, '--pull'));
    await ok(cli(a, counter, 'gather'));
    a.commitAll('gathered');
    a.git('rm', '-q', 'in/f00.txt', 'in/f01.txt');
    await ok(cli(a, counter, 'repro', 'list'));
    await ok(cli(a, counter, 'push', 'list')); // extract's outputs are the workers', not here
    a.commitAll('two inputs fewer');
    for (const k of [1, 2]) {
      const r = json(await ok(cli(clone(a), counter, 'repro', 'extract', '--shard', `${k}/2`, '--pull', '--json')));
      // The other shard's records are not this worker's to drop: no items_dropped in what it reports.
      const extract = r.stages.find((st: { name: string }) => st.name === 'extract');
      expect(extract.reasons.map((x: { code: string }) => x.code)).not.toContain('items_dropped');
    }
    const g = json(await ok(cli(a, counter, 'gather', '--json'))).stages[0];
    expect(g).toMatchObject({ complete: true, uncovered: 0 });
    const records = JSON.parse(a.manifest()!).stages.extract.items;
    expect(Object.keys(records).sort()).toEqual(Array.from({ length: ITEMS - 2 }, (_, i) => `in/f${String(i + 2).padStart(2, '0')}.txt`));
    expect(a.lock()).toMatch(/extract:[\s\S]*items:\n\s+count: 22/);
    a.commitAll('gathered again');
    const fresh = clone(a);
    await ok(cli(fresh, counter, 'pull'));
    expect(fresh.exists('out/f00.up')).toBe(false);
    expect(fresh.read('out/f02.up')).toBe('ITEM 2\n');
    expect(fresh.status().up_to_date).toBe(true);
  }, 90_000);

  it('a folder per item: sharded, gathered, pulled into a fresh clone whole; a repro there runs nothing', async () => {
    const remote = tempDir('dvcl-remote-');
    const rc = `version: 1\nsettings:\n  remote: ${JSON.stringify(remote)}\nstages:\n  split:\n    foreach: in/*.txt\n    out: parts/\${stem}\n    cmd: mkdir -p \${out}/deep && cp \${item} \${out}/a.txt && tr a-z A-Z < \${item} > \${out}/deep/b.txt && echo \${stem} >> "$COUNTER"\n`;
    const files: Record<string, string> = { '.gitignore': '.dvcl/\nparts/\n.manifest.json.bak\n' };
    for (let i = 0; i < 6; i++) files[`in/p${i}.txt`] = `part ${i}\n`;
    const a = await pipelineRepo(rc, files);
    const counter = path.join(tempDir('dvcl-counter-'), 'count');
    for (const k of [1, 2, 3]) await ok(cli(clone(a), counter, 'repro', 'split', '--shard', `${k}/3`));
    expect(new Set(lines(counter)).size).toBe(6);
    await ok(cli(a, counter, 'gather'));
    const records = JSON.parse(a.manifest()!).stages.split.items;
    expect(Object.values(records).map((r: any) => [r.status, r.output_nfiles])).toEqual(Array(6).fill(['success', 2]));
    a.commitAll('gathered');
    const fresh = clone(a);
    await ok(cli(fresh, counter, 'pull'));
    for (let i = 0; i < 6; i++) {
      expect(fresh.read(`parts/p${i}/a.txt`)).toBe(`part ${i}\n`);
      expect(fresh.read(`parts/p${i}/deep/b.txt`)).toBe(`PART ${i}\n`);
    }
    const n = lines(counter).length;
    expect(json(await ok(cli(fresh, counter, 'repro', '--json'))).stages[0]).toMatchObject({ result: 'skipped', items: { ran: 0, total: 6 } });
    expect(lines(counter).length).toBe(n);
  }, 60_000);
});

describe('retry --only-failed --shard', () => {
  it("after a gather that recorded failures, each worker re-runs only its partition's failed items; the next gather is complete", async () => {
    const remote = tempDir('dvcl-remote-');
    const rc = `version: 1\nsettings:\n  remote: ${JSON.stringify(remote)}\nstages:\n  extract:\n    foreach: in/*.txt\n    out: out/\${stem}.up\n    cmd: case \${stem} in f03|f10) if [ -n "$FAIL" ]; then exit 3; fi;; esac; tr a-z A-Z < \${item} > \${out} && echo \${stem} >> "$COUNTER"\n`;
    const files: Record<string, string> = { '.gitignore': '.dvcl/\nout/\n.manifest.json.bak\n' };
    for (let i = 0; i < 12; i++) files[`in/f${String(i).padStart(2, '0')}.txt`] = `item ${i}\n`;
    const a = await pipelineRepo(rc, files);
    const counter = path.join(tempDir('dvcl-counter-'), 'count');
    for (const k of [1, 2]) {
      const r = await spawnCli(clone(a), counter, { FAIL: '1' }, 'repro', 'extract', '--shard', `${k}/2`).done;
      expect(r.code, r.stderr).toBe(shardOf('in/f03.txt', 2) === k || shardOf('in/f10.txt', 2) === k ? 1 : 0);
    }
    expect(lines(counter).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `f${String(i).padStart(2, '0')}`).filter((s) => s !== 'f03' && s !== 'f10'));
    const g = json(await cli(a, counter, 'gather', '--json')).stages[0];
    expect(g).toMatchObject({ complete: false, failed: 2 });
    a.commitAll('gathered, two failed');
    const workers = [1, 2].map(() => clone(a));
    fs.rmSync(counter);
    for (const k of [1, 2]) await ok(cli(workers[k - 1], counter, 'retry', '--only-failed', 'extract', '--shard', `${k}/2`));
    expect(lines(counter).sort()).toEqual(['f03', 'f10']); // nothing else ran
    const again = json(await ok(cli(a, counter, 'gather', '--json'))).stages[0];
    expect(again).toMatchObject({ complete: true, failed: 0, uncovered: 0 });
    expect(Object.values(JSON.parse(a.manifest()!).stages.extract.items).every((r: any) => r.status === 'success')).toBe(true);
  }, 60_000);
});

describe('gc --remote and fragments', () => {
  it('deletes the fragments of a commit whose gather is committed (older than 24 h), never those of one not gathered yet', async () => {
    const { gc } = await import('../src/core/services/gc.js');
    const { a, counter } = await origin(backends[0]);
    const remote = JSON.parse(/remote: (".*")/.exec(a.read('.pipelinerc'))![1]) as string;
    const commit = a.git('rev-parse', 'HEAD');
    const fragments = () => { const d = path.join(remote, 'dvcl/v1/fragments/extract', commit); return fs.existsSync(d) ? fs.readdirSync(d).length : 0; };
    for (const k of [1, 2]) await ok(cli(clone(a), counter, 'repro', 'extract', '--shard', `${k}/2`, '--pull'));
    const sent = fragments();
    expect(sent).toBeGreaterThanOrEqual(2);
    const later = new Date(Date.now() + 2 * 24 * 3600 * 1000);
    await ok(cli(a, counter, 'gather'));
    // Gathered but not committed: a gather can still be thrown away, so the fragments stay.
    expect((await gc({ cwd: a.dir, remote: true, now: later })).remote).toMatchObject({ fragments: 0 });
    expect(fragments()).toBe(sent);
    a.commitAll('gathered');
    expect((await gc({ cwd: a.dir, remote: true, now: new Date() })).remote).toMatchObject({ fragments: 0 }); // younger than 24 h
    expect((await gc({ cwd: a.dir, remote: true, now: later, dryRun: true })).remote).toMatchObject({ fragments: sent });
    expect(fragments()).toBe(sent);
    expect((await gc({ cwd: a.dir, remote: true, now: later })).remote).toMatchObject({ fragments: sent });
    expect(fragments()).toBe(0);
    const fresh = clone(a); // the outputs the gathered ledger records are still there
    await ok(cli(fresh, counter, 'pull'));
    expect(fresh.status().up_to_date).toBe(true);
  }, 60_000);
});
