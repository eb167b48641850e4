#!/usr/bin/env node
// `npm run bench`: dvcl side by side with its peers (make, md5sum, cat, xargs, node), in one run.
//
// Every scenario is built in a temporary folder; its contenders run alternately (A B, B A, ...)
// BENCH_REPS times (default 5) after one untimed warm-up each, and the table shows medians and
// ratios. Results go to stdout and to bench/results.md.
//
//   BENCH_REPS=9 npm run bench               more repetitions
//   BENCH_ONLY=status-warm,items npm run bench   some scenarios (ids in the first column)
//   BENCH_ONLY=stages npm run bench          500/2,000 stages vs make, status of 4,000/10,000 chained stages (minutes)
//   BENCH_ONLY=share npm run bench           push/pull against fauxqs and a folder (needs rclone; not in the default run)
//   BENCH_ONLY=share1g npm run bench         push/pull of one 1 GiB output vs the AWS CLI / rclone (needs both)
//   BENCH_ONLY=runcache npm run bench        a fresh clone's repro --pull against fauxqs (not in the default run)
//   BENCH_ONLY=shard npm run bench           4 shard workers + gather vs repro -j 4 (2,000 items; minutes)
//   BENCH_ONLY=gather npm run bench          gather of 100 fragments / 100,000 items
//   DVCL_BIN=/elsewhere/bin/run.js node bench/run.js   benchmark another build
//   BENCH_KEEP=1 ...                         keep the temporary folder (its path is printed)
//   BENCH_NO_TIME=1 ...                      measure without GNU time, as on a machine that lacks it
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..');
const BIN = path.resolve(process.env.DVCL_BIN ?? path.join(REPO, 'bin/run.js'));
const PKG = path.dirname(path.dirname(BIN)); // the package whose library the in-process hash uses
const REPS = Math.max(1, Number(process.env.BENCH_REPS ?? 5));
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : null;
const OUT = process.env.BENCH_OUT ?? path.join(HERE, 'results.md');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-bench-'));
const ENV = { PATH: process.env.PATH, HOME: process.env.HOME ?? TMP, LANG: 'C.UTF-8', NO_COLOR: '1', CI: '1' };
const TIME = gnuTime();
const MEM_HOOK = path.join(TMP, 'maxrss-hook.mjs');
const GIB = 1024 ** 3;

const log = (msg) => process.stderr.write(`${msg}\n`);
const sh = (cmd, cwd) => execFileSync('sh', ['-c', cmd], { cwd, env: ENV, stdio: ['ignore', 'pipe', 'inherit'] }).toString();
const onPath = (name) => spawnSync('sh', ['-c', `command -v ${name}`], { env: ENV }).status === 0;

/** GNU time measures peak memory; without it (or when it is some other `time`) node's own maxRSS is used. */
function gnuTime() {
  if (process.env.BENCH_NO_TIME || !fs.existsSync('/usr/bin/time')) return null;
  const r = spawnSync('/usr/bin/time', ['-f', '%M', 'true'], { encoding: 'utf8' });
  return r.status === 0 && /^\d+\s*$/.test(r.stderr) ? '/usr/bin/time' : null;
}

// ---------------------------------------------------------------------------------------------
// measuring

/**
 * Run one command; return wall time (ms) and peak RSS (KiB, when measurable). A contender is
 * {label, argv, cwd, before?, stdin?, expect?, parse?}: `before` runs untimed, `parse` turns the
 * output into the figure instead of the wall time (in-process measurements).
 */
function runOnce(c) {
  c.before?.();
  const memFile = path.join(TMP, 'maxrss');
  fs.rmSync(memFile, { force: true });
  let argv = c.argv;
  const env = { ...ENV, ...c.env };
  if (TIME) argv = [TIME, '-f', '%M', '-o', memFile, ...argv];
  else if (path.basename(argv[0]) === 'node') env.NODE_OPTIONS = `--import=${pathToFileURL(MEM_HOOK)}`;
  const stdin = c.stdin ? fs.openSync(c.stdin, 'r') : 'ignore';
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { cwd: c.cwd, env, stdio: [stdin, 'pipe', 'pipe'], maxBuffer: 1 << 28 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (typeof stdin === 'number') fs.closeSync(stdin);
  const want = c.expect ?? 0;
  if (r.status !== want) {
    throw new Error(`${c.label}: exit ${r.status} (expected ${want}): ${c.argv.join(' ')}\n${r.stdout}\n${r.stderr}`);
  }
  let kb = null;
  try {
    kb = Number(fs.readFileSync(memFile, 'utf8').trim().split('\n').pop());
  } catch { /* not measurable for this command */ }
  return { ms: c.parse ? c.parse(r.stdout.toString()) : ms, kb };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Alternate the contenders rep by rep (A B, B A, ...); medians per contender. */
function race(contenders, reps = REPS) {
  for (const c of contenders) runOnce(c); // warm-up: page cache, stat cache, V8 code cache
  const samples = contenders.map(() => ({ ms: [], kb: [] }));
  for (let i = 0; i < reps; i++) {
    const order = contenders.map((_, j) => j);
    if (i % 2) order.reverse();
    for (const j of order) {
      const r = runOnce(contenders[j]);
      samples[j].ms.push(r.ms);
      if (r.kb !== null) samples[j].kb.push(r.kb);
    }
  }
  return samples.map((s, j) => ({
    label: contenders[j].label,
    ms: median(s.ms),
    min: Math.min(...s.ms),
    max: Math.max(...s.ms),
    mb: s.kb.length ? Math.max(...s.kb) / 1024 : null,
  }));
}

// ---------------------------------------------------------------------------------------------
// building scenarios

function project(name, rc, files = {}) {
  const dir = path.join(TMP, name);
  fs.mkdirSync(dir, { recursive: true });
  writeFiles(dir, { '.pipelinerc': rc, '.gitignore': '.dvcl/\n', ...files });
  // A git repository like a user's: dvcl reads HEAD, branch and dirtiness when it runs.
  sh('git init -q -b main && git -c user.name=bench -c user.email=bench@example.org -c commit.gpgsign=false commit -q --allow-empty -m init', dir);
  return dir;
}

function writeFiles(dir, files) {
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
}

const dvcl = (...args) => ['node', BIN, ...args];

function dvclOk(cwd, ...args) {
  const r = spawnSync('node', [BIN, ...args], { cwd, env: ENV, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`dvcl ${args.join(' ')} in ${cwd}: exit ${r.status}\n${r.stderr}`);
  return r.stdout;
}

/** 10,000 files of 1 KiB in 100 folders, the dep of one stage; the same prerequisites for make. */
function tenThousand() {
  const files = [];
  const buf = Buffer.alloc(1024);
  const dir = project('status10k', 'version: 1\nstages:\n  train:\n    cmd: echo trained > model.txt\n    deps: [data]\n    outs: [model.txt]\n');
  for (let d = 0; d < 100; d++) {
    const sub = `data/${String(d).padStart(2, '0')}`;
    fs.mkdirSync(path.join(dir, sub), { recursive: true });
    for (let f = 0; f < 100; f++) {
      const rel = `${sub}/${String(f).padStart(3, '0')}.csv`;
      fs.writeFileSync(path.join(dir, rel), randomFillSync(buf));
      files.push(rel);
    }
  }
  fs.writeFileSync(path.join(dir, 'Makefile'), `DEPS := \\\n${files.map((f) => `  ${f}`).join(' \\\n')}\n\nmodel.txt: $(DEPS)\n\techo trained > model.txt\n`);
  dvclOk(dir, 'repro');
  sh('touch model.txt', dir); // newer than every dep: make -q answers "up to date"
  dvclOk(dir, 'status', '--check');
  return dir;
}

function bigFile() {
  const dir = project('hash1g', 'version: 1\nstages:\n  fingerprint:\n    cmd: echo ok > seen.txt\n    deps: [big.bin]\n    outs: [seen.txt]\n');
  const fd = fs.openSync(path.join(dir, 'big.bin'), 'w');
  const chunk = Buffer.alloc(16 << 20);
  for (let n = 0; n < GIB / chunk.length; n++) fs.writeSync(fd, randomFillSync(chunk));
  fs.closeSync(fd);
  sh('cat big.bin > /dev/null', dir); // into the page cache
  fs.writeFileSync(path.join(dir, 'hash-file.mjs'), `
const { Hasher } = await import(${JSON.stringify(pathToFileURL(path.join(PKG, 'dist/index.js')).href)});
const h = await Hasher.open({ root: process.cwd(), stateDir: null });
h.hashString('warm-up');
const t0 = process.hrtime.bigint();
const r = h.hash(process.argv[2]);
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
if (r.size !== ${GIB}) throw new Error('short read');
process.stdout.write(String(ms));
`);
  dvclOk(dir, 'repro');
  return dir;
}

function items(n) {
  const dir = project('items', 'version: 1\nstages:\n  copy:\n    foreach: in/*.txt\n    out: out/${stem}.txt\n    cmd: cp ${item} ${out}\n');
  fs.mkdirSync(path.join(dir, 'in'));
  const pairs = [];
  for (let i = 0; i < n; i++) {
    const stem = String(i).padStart(5, '0');
    fs.writeFileSync(path.join(dir, `in/${stem}.txt`), `item ${i}\n`);
    pairs.push(`in/${stem}.txt out/${stem}.txt`);
  }
  fs.writeFileSync(path.join(dir, 'pairs.txt'), pairs.join('\n') + '\n');
  return dir;
}

/** 10 layers of 5 stages, each reading two stages of the layer before; `after` is appended to each cmd. */
function layeredStages(after = () => '') {
  let stages = '';
  const files = {};
  for (let layer = 0; layer < 10; layer++) {
    for (let k = 0; k < 5; k++) {
      const name = `s${layer}_${k}`;
      const deps = layer === 0 ? [`src/${k}.txt`] : [`out/s${layer - 1}_${k}.txt`, `out/s${layer - 1}_${(k + 1) % 5}.txt`];
      if (layer === 0) files[`src/${k}.txt`] = `source ${k}\n`;
      stages += `  ${name}:\n    cmd: cat ${deps.join(' ')} > out/${name}.txt${after(name)}\n    deps: [${deps.join(', ')}]\n    outs: [out/${name}.txt]\n`;
    }
  }
  return { stages, files };
}

function fiftyStages() {
  const { stages, files } = layeredStages();
  const rc = `version: 1\nstages:\n${stages}`;
  const dir = project('stages50', rc, files);
  dvclOk(dir, 'repro');
  dvclOk(dir, 'status', '--check');
  return dir;
}

/** `n` independent trivial stages, each copying one file, and the same rules for make. */
function manyStages(n) {
  let rc = 'version: 1\nstages:\n';
  let mk = `all:${Array.from({ length: n }, (_, i) => ` out/${i}.txt`).join('')}\nout/%.txt: src/%.txt\n\t@mkdir -p out && cp $< $@\n`;
  const files = { Makefile: mk };
  for (let i = 0; i < n; i++) {
    files[`src/${i}.txt`] = `source ${i}\n`;
    rc += `  s${i}:\n    cmd: mkdir -p out && cp src/${i}.txt out/${i}.txt\n    deps: [src/${i}.txt]\n    params: [seed]\n    outs: [out/${i}.txt]\n`;
  }
  // Each timed run first changes the param every stage reads, so every stage runs and writes a new lock entry.
  files['params.yaml'] = 'seed: 0\n';
  files['bump.sh'] = 'echo "seed: $(date +%s%N)" > params.yaml\n';
  const dir = project(`stages${n}`, rc, files);
  dvclOk(dir, 'repro');
  return dir;
}

/** A chain of `n` stages, run once: status has nothing to do but read, hash and infer the DAG. */
function chainedStages(n) {
  let rc = 'version: 1\nstages:\n';
  for (let i = 0; i < n; i++) {
    const dep = i === 0 ? 'seed.txt' : `out/${i - 1}.txt`;
    rc += `  c${i}:\n    cmd: cp ${dep} out/${i}.txt\n    deps: [${dep}]\n    outs: [out/${i}.txt]\n`;
  }
  const dir = project(`chain${n}`, rc, { 'seed.txt': 'seed\n', 'out/.keep': '' });
  dvclOk(dir, 'repro');
  dvclOk(dir, 'status', '--check');
  return dir;
}

/**
 * n items (100,000 by default) recorded as processed. Running them for real would take minutes, so two
 * items run for real, their records are copied to the others (same content, same hashes), and one
 * more repro (which runs nothing: every item is recorded) writes the lock entry and the stat cache.
 */
function recordedItems(n = 100_000) {
  const name = n === 100_000 ? 'manifest100k' : `manifest${n}`;
  const dir = project(name, 'version: 1\nstages:\n  copy:\n    foreach: in/*.txt\n    out: out/${stem}.txt\n    cmd: cp ${item} ${out}\n');
  const stem = (i) => String(i).padStart(6, '0');
  fs.mkdirSync(path.join(dir, 'in'));
  fs.mkdirSync(path.join(dir, 'out'));
  for (let i = 0; i < 2; i++) fs.writeFileSync(path.join(dir, `in/${stem(i)}.txt`), 'same\n');
  dvclOk(dir, 'repro');
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, '.manifest.json'), 'utf8'));
  const itemRecs = manifest.stages.copy.items;
  const template = itemRecs[`in/${stem(0)}.txt`];
  for (let i = 2; i < n; i++) {
    fs.writeFileSync(path.join(dir, `in/${stem(i)}.txt`), 'same\n');
    fs.writeFileSync(path.join(dir, `out/${stem(i)}.txt`), 'same\n');
    itemRecs[`in/${stem(i)}.txt`] = { ...template, output: `out/${stem(i)}.txt` };
  }
  fs.writeFileSync(path.join(dir, '.manifest.json'), `${JSON.stringify(sortKeys(manifest), null, 2)}\n`);
  const repro = JSON.parse(dvclOk(dir, 'repro', '--json'));
  const ran = repro.stages.reduce((sum, s) => sum + (s.items?.ran ?? 0), 0);
  if (ran !== 0) throw new Error(`${name}: the fix-up repro ran ${ran} items`);
  dvclOk(dir, 'status', '--check');
  return dir;
}

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}

function sleepPair() {
  const stage = (name) => `  ${name}:\n    cmd: sleep 2 && echo ${name} > ${name}.txt\n    outs: [${name}.txt]\n`;
  const dir = project('sleep', `version: 1\nstages:\n${stage('left')}${stage('right')}`);
  return dir;
}

/**
 * fauxqs (an in-memory S3) in a process of its own, as the bench measures with spawnSync: the
 * port it listens on, the bucket it made, and how to stop it.
 */
function startS3() {
  const portFile = path.join(TMP, 'fauxqs.port');
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    import fs from 'node:fs';
    const { startFauxqs } = await import('fauxqs');
    const s = await startFauxqs({ port: 0, logger: false });
    s.createBucket('bench');
    fs.writeFileSync(${JSON.stringify(portFile)}, String(s.port));
  `], { cwd: REPO, stdio: 'ignore' });
  const wait = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 600 && !fs.existsSync(portFile); i++) Atomics.wait(wait, 0, 0, 50);
  const port = Number(fs.readFileSync(portFile, 'utf8'));
  return { endpoint: `http://127.0.0.1:${port}`, bucket: 'bench', stop: () => child.kill('SIGKILL') };
}

/** rclone's remote `X:` for the bench's fauxqs, from the environment (no config file). */
const rcloneEnv = (s3) => ({ RCLONE_CONFIG_X_TYPE: 's3', RCLONE_CONFIG_X_PROVIDER: 'Other', RCLONE_CONFIG_X_ENDPOINT: s3.endpoint, RCLONE_CONFIG_X_ACCESS_KEY_ID: 'bench', RCLONE_CONFIG_X_SECRET_ACCESS_KEY: 'bench', RCLONE_CONFIG_X_REGION: 'us-east-1' });

/** What the AWS SDK reads in dvcl's process; fauxqs checks no signature. */
const SHARE_AWS = { AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' };

/**
 * The share scenario: a stage whose out is a folder of 10,000 files of 1 KiB, run once and pushed
 * to fauxqs and to a folder remote; a clone of it (the lock and manifest, no outputs) pulls.
 */
function shareProject(s3) {
  const rc = (remote) => `version: 1\nsettings:\n  remote: ${remote}\n  remote_options: {endpoint: "${s3.endpoint}", jobs: 32}\nstages:\n  copy:\n    cmd: cp -R src out\n    deps: [src]\n    outs: [out]\n`;
  const a = project('share-a', rc(`s3://${s3.bucket}/team`));
  const buf = Buffer.alloc(1024);
  for (let d = 0; d < 100; d++) {
    fs.mkdirSync(path.join(a, `src/${String(d).padStart(2, '0')}`), { recursive: true });
    for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(a, `src/${String(d).padStart(2, '0')}/${String(f).padStart(3, '0')}.bin`), randomFillSync(buf));
  }
  dvclOk(a, 'repro');
  const push = (...args) => {
    const r = spawnSync('node', [BIN, 'push', ...args], { cwd: a, env: { ...ENV, ...SHARE_AWS }, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`dvcl push ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  };
  push();
  const folder = path.join(TMP, 'share-remote');
  fs.mkdirSync(folder);
  push('-r', folder);
  const b = path.join(TMP, 'share-b');
  sh(`cp -R ${JSON.stringify(a)} ${JSON.stringify(b)} && rm -rf ${JSON.stringify(b)}/out ${JSON.stringify(b)}/.dvcl`, TMP);
  return { a, b, folder };
}

/**
 * One output of 1 GiB pushed and pulled, against rclone moving the same file to and from the
 * same server: medians of the transfer times, as throughput. Each run starts with the remote
 * (push) or the workspace and cache (pull) lacking the file.
 */
function bigTransfers(s3, RCLONE, fresh) {
  const rc = `version: 1\nsettings:\n  remote: s3://${s3.bucket}/big\n  remote_options: {endpoint: "${s3.endpoint}"}\nstages:\n  big:\n    cmd: head -c ${GIB} /dev/urandom > big.bin\n    outs: [big.bin]\n`;
  const a = project('big-a', rc);
  dvclOk(a, 'repro');
  const peerSrc = path.join(TMP, 'big-peer-src');
  fs.mkdirSync(peerSrc);
  fs.copyFileSync(path.join(a, 'big.bin'), path.join(peerSrc, 'big.bin'));
  const rclone = (...args) => ['rclone', ...args];
  const purge = (prefix) => () => spawnSync('rclone', ['purge', `X:${s3.bucket}/${prefix}`], { env: { ...ENV, ...RCLONE }, stdio: 'ignore' });
  // rclone 1.60's multipart uploads come out wrong on fauxqs 1.9 (InvalidPart, then a short
  // object): the AWS CLI is the upload peer; rclone downloads.
  const [dp, rp] = race([
    { label: 'dvcl push (1 GiB)', argv: dvcl('push'), cwd: a, env: SHARE_AWS, before: purge('big') },
    { label: 'aws s3 cp (1 GiB)', argv: ['aws', '--endpoint-url', s3.endpoint, 's3', 'cp', '--only-show-errors', path.join(peerSrc, 'big.bin'), `s3://${s3.bucket}/big-peer/big.bin`], cwd: TMP, env: SHARE_AWS, before: purge('big-peer') },
  ]);
  const gbs = (ms) => `${(1024 / (ms / 1000)).toFixed(0)} MiB/s`;
  log(`  push 1 GiB: dvcl ${fmtMs(dp.ms)}, aws s3 cp ${fmtMs(rp.ms)}`);
  rows.push(['share-push-1g', 'push one 1 GiB output to S3 (fauxqs), the remote lacking it', `dvcl push ${fmtMs(dp.ms)} (${gbs(dp.ms)})`, `aws s3 cp ${fmtMs(rp.ms)} (${gbs(rp.ms)})`,
    `${(rp.ms / dp.ms).toFixed(2)}x throughput`, '≥ 0.8x the peer', verdict(rp.ms / dp.ms >= 0.8), fmtMb(dp.mb)]);
  const peerDest = path.join(TMP, 'big-peer-dest');
  const [dl, rl] = race([
    { label: 'dvcl pull (1 GiB)', argv: dvcl('pull'), cwd: a, env: SHARE_AWS, before: fresh(a, 'big.bin', '.dvcl') },
    { label: 'rclone copy (1 GiB)', argv: rclone('copy', `X:${s3.bucket}/big/dvcl/v1/objects`, peerDest), cwd: TMP, env: RCLONE, before: fresh(TMP, 'big-peer-dest') }, // the object dvcl pulls
  ]);
  log(`  pull 1 GiB: dvcl ${fmtMs(dl.ms)}, rclone ${fmtMs(rl.ms)}`);
  rows.push(['share-pull-1g', 'pull one 1 GiB output from S3 (fauxqs), nothing local', `dvcl pull ${fmtMs(dl.ms)} (${gbs(dl.ms)})`, `rclone copy ${fmtMs(rl.ms)} (${gbs(rl.ms)})`,
    `${(rl.ms / dl.ms).toFixed(2)}x throughput`, '≥ 0.8x rclone', verdict(rl.ms / dl.ms >= 0.8), fmtMb(dl.mb)]);
  notes.push('share 1 GiB: dvcl hashes the file as it sends it and as it receives it (verify before place) and keeps a second copy in .dvcl/objects/ on pull; rclone and the AWS CLI check an MD5 where the server gives one.');
  for (const d of [a, peerSrc, peerDest]) fs.rmSync(d, { recursive: true, force: true });
}

/**
 * The run-cache scenario: 50 stages (10 layers of 5) whose outs are git-ignored, run once and
 * pushed to fauxqs; a clone of it (no outputs, no .dvcl/) and a file each command appends to.
 */
function runCacheProject(s3) {
  const counter = path.join(TMP, 'runcache-count');
  const { stages, files } = layeredStages((name) => ` && echo ${name} >> ${counter}`);
  const rc = `version: 1\nsettings:\n  remote: s3://${s3.bucket}/runcache\n  remote_options: {endpoint: "${s3.endpoint}", jobs: 32}\nstages:\n${stages}`;
  const a = project('runcache-a', rc, { ...files, '.gitignore': '.dvcl/\nout/\n' });
  dvclOk(a, 'repro');
  const r = spawnSync('node', [BIN, 'push'], { cwd: a, env: { ...ENV, ...SHARE_AWS }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dvcl push: exit ${r.status}\n${r.stderr}`);
  fs.rmSync(counter, { force: true });
  const b = path.join(TMP, 'runcache-b');
  sh(`cp -R ${JSON.stringify(a)} ${JSON.stringify(b)} && rm -rf ${JSON.stringify(b)}/out ${JSON.stringify(b)}/.dvcl`, TMP);
  return { b, counter };
}

/** Commit every file of a `project()` folder (shard workers and gather meet at a commit). */
function commitAll(dir, msg) {
  sh(`git add -A && git -c user.name=bench -c user.email=bench@example.org -c commit.gpgsign=false commit -q -m ${JSON.stringify(msg)}`, dir);
  return sh('git rev-parse HEAD', dir).trim();
}

/** A per-item stage with a folder remote: `n` inputs read by `cp`, its outputs git-ignored. */
const SHARD_RC = (remote, extra = '') => `version: 1\nsettings:\n  remote: ${JSON.stringify(remote)}\n${extra}stages:\n  copy:\n    foreach: in/*.txt\n    out: out/\${stem}.txt\n    cmd: cp \${item} \${out}\n`;

/** The shard scenario's origin: a committed repository of `n` inputs; a folder remote beside it. */
function shardOrigin(n) {
  const remote = path.join(TMP, 'shard-remote');
  const files = { '.gitignore': '.dvcl/\nout/\n.manifest.json.bak\n' };
  for (let i = 0; i < n; i++) files[`in/${String(i).padStart(5, '0')}.txt`] = `item ${i}\n`;
  const dir = project('shard-origin', SHARD_RC(remote), files);
  commitAll(dir, 'inputs');
  return { dir, remote };
}

/** Spawn one command, measured as runOnce does (wall time, GNU time's peak RSS); resolves when it exits. */
function timedSpawn(argv, cwd, env = {}, tag = 'x') {
  const memFile = path.join(TMP, `maxrss-${tag}`);
  fs.rmSync(memFile, { force: true });
  const e = { ...ENV, ...env };
  let full = argv;
  if (TIME) full = [TIME, '-f', '%M', '-o', memFile, ...argv];
  else if (path.basename(argv[0]) === 'node') Object.assign(e, { NODE_OPTIONS: `--import=${pathToFileURL(MEM_HOOK)}`, BENCH_MAXRSS_FILE: memFile });
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(full[0], full.slice(1), { cwd, env: e, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const stdout = Buffer.concat(out).toString();
      const stderr = Buffer.concat(err).toString();
      if (code !== 0) return reject(new Error(`exit ${code}: ${argv.join(' ')} in ${cwd}\n${stdout}\n${stderr}`));
      let kb = null;
      try {
        kb = Number(fs.readFileSync(memFile, 'utf8').trim().split('\n').pop());
      } catch { /* not measurable */ }
      resolve({ ms, kb, stdout, stderr });
    });
  });
}

/**
 * 100 ledger fragments covering `n` items, written straight into a folder remote at the keys
 * fragmentKey gives, as 50 workers of `copy --shard K/50` would leave them: each attempt's seq-0
 * fragment lists the shard's items (`present`) and carries the first half of their records, seq 1
 * the rest. Items are partitioned as dvcl partitions them; the repository's HEAD is their commit.
 */
async function gatherProject(n = 100_000, shards = 50) {
  const lib = (rel) => import(pathToFileURL(path.join(PKG, 'dist', rel)).href);
  const { fragmentKey, serializeFragment } = await lib('core/ledger/fragment.js');
  const { shardOf } = await lib('core/run/shard.js');
  const remote = path.join(TMP, 'gather-remote');
  const dir = project('gather100k', SHARD_RC(remote, '  hash: sha256\n'), { '.gitignore': '.dvcl/\nout/\n.manifest.json.bak\n' });
  const commit = commitAll(dir, 'stage');
  const hex = (s) => createHash('sha256').update(s).digest('hex');
  const stageKey = `sha256:${hex('stage key')}`;
  const itemsSet = `sha256:${hex('items set')}`;
  const entry = { cmd: 'cp ${item} ${out}', deps: [], params: {}, out: 'out/${stem}.txt', git: { commit, branch: 'main', dirty: false } };
  const byShard = Array.from({ length: shards }, () => []);
  for (let i = 0; i < n; i++) {
    const item = `in/${String(i).padStart(6, '0')}.txt`;
    byShard[shardOf(item, shards) - 1].push(item);
  }
  let written = 0;
  for (let k = 1; k <= shards; k++) {
    const attempt = hex(`attempt ${k}`).slice(0, 12);
    const t = new Date(Date.UTC(2026, 11, 1, 12, 0, k));
    const stamp = t.toISOString().replace(/\.\d+Z$/, 'Z');
    const run = `${stamp.replace(/[-:]/g, '')}-${attempt.slice(0, 6)}`;
    const runs = { [run]: { argv: ['repro', 'copy', '--shard', `${k}/${shards}`, '-j', '1'], dvcl: '0.1.0', started_at: stamp, finished_at: null, git_branch: 'main', git_commit: commit, git_dirty: false, host: `worker-${k}`, node: process.version, platform: 'linux-x64', user: 'bench <bench@example.org>' } };
    const list = byShard[k - 1];
    const present = list.map((item) => [item, `sha256:${hex(`in ${item}`)}`]);
    const rec = (item, j) => ({
      status: 'success', hash: present[j][1], stage_hash: stageKey, attempts: 1, output: item.replace(/^in\//, 'out/'),
      output_hash: `sha256:${hex(`out ${item}`)}`, last_processed: stamp, run,
    });
    const half = list.length >> 1;
    for (const [seq, from, to] of [[0, 0, half], [1, half, list.length]]) {
      const items = {};
      for (let j = from; j < to; j++) items[list[j]] = rec(list[j], j);
      const frag = { version: 1, commit, stage: 'copy', stage_key: stageKey, items_set: itemsSet, items_total: n, shard: { index: k, count: shards }, attempt, seq, entry, ...(seq === 0 ? { present } : {}), items, runs };
      const file = path.join(remote, fragmentKey(frag));
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, serializeFragment(frag));
      written++;
    }
  }
  return { dir, fragments: written, bytes: Number(sh(`du -sb ${JSON.stringify(remote)} | cut -f1`, TMP)) };
}

// ---------------------------------------------------------------------------------------------
// scenarios: each returns table rows

const rows = [];
const notes = [];
const fmtMs = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`);
const fmtMb = (mb) => (mb === null ? 'n/a' : `${mb.toFixed(0)} MB`);
const ratio = (a, b) => `${(a / b).toFixed(2)}x`;
const verdict = (ok) => (ok ? 'met' : '**missed**');

const scenarios = [
  {
    id: 'status-warm',
    run() {
      const dir = tenThousand();
      const [d, m] = race([
        { label: 'dvcl status', argv: dvcl('status'), cwd: dir },
        { label: 'make -rR -q', argv: ['make', '-rR', '-q', 'model.txt'], cwd: dir },
      ]);
      rows.push(['status-warm', 'status, 10,000-file dep, nothing changed', `dvcl status ${fmtMs(d.ms)}`, `make -rR -q ${fmtMs(m.ms)}`,
        ratio(d.ms, m.ms), '≤ 3x make', verdict(d.ms <= 3 * m.ms), fmtMb(d.mb)]);
      if (onPath('snakemake')) notes.push('snakemake is on PATH but no Snakefile scenario is written yet.');
      else notes.push('`snakemake` is not installed on this machine: the snakemake comparison (target: ≥ 10x faster than `snakemake -n`) was skipped.');

      const [c, m2, md5] = race([
        { label: 'dvcl status (no .dvcl/)', argv: dvcl('status'), cwd: dir, before: () => fs.rmSync(path.join(dir, '.dvcl'), { recursive: true, force: true }) },
        { label: 'make -rR -q', argv: ['make', '-rR', '-q', 'model.txt'], cwd: dir },
        { label: 'md5sum of the 10,000 files', argv: ['sh', '-c', 'find data -type f -print0 | xargs -0 md5sum > /dev/null'], cwd: dir },
      ]);
      rows.push(['status-cold', 'status, 10,000-file dep, empty stat cache (full hashing)', `dvcl status ${fmtMs(c.ms)}`,
        `make -rR -q ${fmtMs(m2.ms)}; md5sum ${fmtMs(md5.ms)}`, `${ratio(c.ms, m2.ms)} make; ${ratio(c.ms, md5.ms)} md5sum`, '—', '', fmtMb(c.mb)]);
    },
  },
  {
    id: 'hash',
    run() {
      const dir = bigFile();
      const [inproc, cli, md5, cat] = race([
        { label: 'dvcl Hasher', argv: ['node', 'hash-file.mjs', 'big.bin'], cwd: dir, parse: Number },
        { label: 'dvcl status (cold)', argv: dvcl('status'), cwd: dir, before: () => fs.rmSync(path.join(dir, '.dvcl'), { recursive: true, force: true }) },
        { label: 'md5sum', argv: ['md5sum', 'big.bin'], cwd: dir },
        { label: 'cat > /dev/null', argv: ['sh', '-c', 'cat big.bin > /dev/null'], cwd: dir },
      ]);
      const gbs = (ms) => `${(GIB / 1e9 / (ms / 1000)).toFixed(2)} GB/s`;
      rows.push(['hash', 'hash a 1 GiB file in the page cache (xxh128, in-process)', `${gbs(inproc.ms)} (${fmtMs(inproc.ms)})`,
        `md5sum ${gbs(md5.ms)}; cat ${gbs(cat.ms)}`, `${ratio(md5.ms, inproc.ms)} md5sum's speed; ${ratio(cat.ms, inproc.ms)} cat's`,
        '≥ 2 GB/s, ≥ 4x md5sum', verdict(GIB / 1e6 / inproc.ms >= 2 && md5.ms >= 4 * inproc.ms), '']);
      rows.push(['hash-cli', 'the same through `dvcl status`, empty stat cache (start-up included)', `${gbs(cli.ms)} (${fmtMs(cli.ms)})`,
        `md5sum ${fmtMs(md5.ms)}`, `${ratio(md5.ms, cli.ms)} md5sum's speed`, '—', '', fmtMb(cli.mb)]);
    },
  },
  {
    id: 'items',
    run() {
      const n = 2000;
      const dir = items(n);
      const reset = (...names) => () => { for (const f of names) fs.rmSync(path.join(dir, f), { recursive: true, force: true }); };
      const [d, x] = race([
        { label: 'dvcl repro -j 2', argv: dvcl('repro', '-j', '2'), cwd: dir, before: reset('out', '.dvcl', '.manifest.json', '.manifest.json.bak', 'pipeline.lock') },
        { label: 'xargs -P2', argv: ['xargs', '-P2', '-n2', 'cp'], stdin: path.join(dir, 'pairs.txt'), cwd: dir, before: () => { reset('out')(); fs.mkdirSync(path.join(dir, 'out')); } },
      ]);
      rows.push(['items', `${n.toLocaleString('en')} one-process items (\`cp\`), 2 at a time, from scratch`, `dvcl repro -j 2 ${fmtMs(d.ms)}`,
        `xargs -P2 ${fmtMs(x.ms)}`, ratio(d.ms, x.ms), '≤ 1.1x xargs', verdict(d.ms <= 1.1 * x.ms), fmtMb(d.mb)]);
      notes.push(`items: per item, dvcl ${(d.ms / n).toFixed(2)} ms, xargs ${(x.ms / n).toFixed(2)} ms of wall time.`);
    },
  },
  {
    id: 'share',
    optIn: true, // a server and 20,000 objects: only with BENCH_ONLY=share
    run() {
      if (!onPath('rclone')) {
        notes.push('share: rclone is not installed (`apt-get install -y rclone`): the S3 peer rows are skipped.');
      }
      const s3 = startS3();
      try {
        const { a, b, folder } = shareProject(s3);
        const AWS = SHARE_AWS;
        const RCLONE = rcloneEnv(s3);
        const fresh = (dir, ...names) => () => { for (const n of names) fs.rmSync(path.join(dir, n), { recursive: true, force: true }); };
        const dest = path.join(TMP, 'share-peer');
        const n = '10,000 files of 1 KiB (one folder out)';
        if (onPath('rclone')) {
          const [d, r] = race([
            { label: 'dvcl pull -j 32', argv: dvcl('pull', '-j', '32'), cwd: b, env: AWS, before: fresh(b, 'out', '.dvcl') },
            { label: 'rclone copy --transfers 32', argv: ['rclone', 'copy', '--transfers', '32', 'X:bench/team/dvcl/v1/objects', dest], cwd: TMP, env: RCLONE, before: fresh(TMP, 'share-peer') },
          ]);
          log(`  dvcl pull ${fmtMs(d.ms)}, rclone copy ${fmtMs(r.ms)}`);
          rows.push(['share-s3', `pull ${n} from S3 (fauxqs), nothing local`, `dvcl pull ${fmtMs(d.ms)}`, `rclone copy ${fmtMs(r.ms)}`, ratio(d.ms, r.ms), '≤ 1.5x rclone', verdict(d.ms <= 1.5 * r.ms), fmtMb(d.mb)]);
        }
        // The same pull into a clone whose settings.cache is false: one copy of each object, as cp makes.
        const b1 = path.join(TMP, 'share-b1');
        fs.cpSync(b, b1, { recursive: true });
        fs.writeFileSync(path.join(b1, '.pipelinerc.local'), 'settings:\n  cache: false\n');
        const [f, c, f1] = race([
          { label: 'dvcl pull (folder)', argv: dvcl('pull', '-r', folder), cwd: b, before: fresh(b, 'out', '.dvcl') },
          { label: 'cp -r', argv: ['cp', '-r', path.join(folder, 'dvcl/v1/objects'), dest], cwd: TMP, before: fresh(TMP, 'share-peer') },
          { label: 'dvcl pull (folder, cache: false)', argv: dvcl('pull', '-r', folder), cwd: b1, before: fresh(b1, 'out', '.dvcl') },
        ]);
        log(`  dvcl pull (folder) ${fmtMs(f.ms)}, cp -r ${fmtMs(c.ms)}, without the cache's copy ${fmtMs(f1.ms)}`);
        notes.push(`share-folder: the same pull with settings.cache false (no second copy in .dvcl/objects/) took ${fmtMs(f1.ms)}, ${ratio(f1.ms, c.ms)} cp -r.`);
        rows.push(['share-folder', `pull ${n} from a folder remote, nothing local`, `dvcl pull ${fmtMs(f.ms)}`, `cp -r ${fmtMs(c.ms)}`, ratio(f.ms, c.ms), '≤ 1.2x cp -r', verdict(f.ms <= 1.2 * c.ms), fmtMb(f.mb)]);
        const mirror = path.join(a, 'out');
        if (onPath('rclone')) execFileSync('rclone', ['copy', '--transfers', '32', 'out', 'X:bench/mirror'], { cwd: a, env: { ...ENV, ...RCLONE }, stdio: 'ignore' });
        const peers = [{ label: 'dvcl push (all there)', argv: dvcl('push', '-j', '32'), cwd: a, env: AWS }];
        if (onPath('rclone')) peers.push({ label: 'rclone copy (all there)', argv: ['rclone', 'copy', '--transfers', '32', mirror, 'X:bench/mirror'], cwd: a, env: RCLONE });
        const [p, q] = race(peers);
        rows.push(['share-push', `push ${n} to S3 when the remote has them all`, `dvcl push ${fmtMs(p.ms)}`, q ? `rclone copy ${fmtMs(q.ms)}` : '—', q ? ratio(p.ms, q.ms) : '—', '≤ 1 s', verdict(p.ms <= 1000), fmtMb(p.mb)]);
        notes.push('share: dvcl pull hashes every object it places (verify before place) and writes it twice (the workspace and .dvcl/objects/); rclone and cp copy the objects, unchecked, to one folder.');
      } finally {
        s3.stop();
      }
    },
  },
  {
    id: 'share1g',
    optIn: true, // 1 GiB through a server, a dozen times: only with BENCH_ONLY=share1g
    run() {
      if (!onPath('rclone') || !onPath('aws')) return void notes.push('share1g: needs rclone and the AWS CLI (`apt-get install -y rclone awscli`): skipped.');
      const s3 = startS3();
      try {
        const fresh = (dir, ...names) => () => { for (const n of names) fs.rmSync(path.join(dir, n), { recursive: true, force: true }); };
        bigTransfers(s3, rcloneEnv(s3), fresh);
      } finally {
        s3.stop();
      }
    },
  },
  {
    id: 'runcache',
    optIn: true, // a server: only with BENCH_ONLY=runcache
    run() {
      const s3 = startS3();
      try {
        const { b, counter } = runCacheProject(s3);
        const fresh = () => { for (const n of ['out', '.dvcl']) fs.rmSync(path.join(b, n), { recursive: true, force: true }); };
        const [r, p] = race([
          { label: 'dvcl repro --pull (fresh clone)', argv: dvcl('repro', '--pull'), cwd: b, env: SHARE_AWS, before: fresh },
          { label: 'dvcl pull (fresh clone)', argv: dvcl('pull'), cwd: b, env: SHARE_AWS, before: fresh },
        ]);
        const ran = fs.existsSync(counter) ? fs.readFileSync(counter, 'utf8').split('\n').filter(Boolean).length : 0;
        rows.push(['runcache', 'fresh clone, 50 restorable stages: `repro --pull` (no command run)', `dvcl repro --pull ${fmtMs(r.ms)}`, `dvcl pull ${fmtMs(p.ms)}`, ratio(r.ms, p.ms),
          '≤ 1.5x pull, 0 commands', verdict(r.ms <= 1.5 * p.ms && ran === 0), fmtMb(r.mb)]);
        notes.push(`runcache: ${ran} stage command(s) ran across every repro --pull of the clone.`);
      } finally {
        s3.stop();
      }
    },
  },
  {
    id: 'shard',
    optIn: true, // 2,000 items run ~20 times in fresh clones: only with BENCH_ONLY=shard
    async run() {
      const n = 2000;
      const { dir: origin, remote } = shardOrigin(n);
      const clone = (name) => {
        const d = path.join(TMP, name);
        fs.rmSync(d, { recursive: true, force: true });
        sh(`git clone -q ${JSON.stringify(origin)} ${JSON.stringify(d)}`, TMP);
        return d;
      };
      const emptyRemote = () => { fs.rmSync(remote, { recursive: true, force: true }); fs.mkdirSync(remote); };
      const countFragments = () => Number(sh(`find ${JSON.stringify(path.join(remote, 'dvcl/v1/fragments'))} -type f | wc -l`, TMP));
      // Setup (untimed) returns the timed part; each contender runs in fresh clones against an emptied remote.
      const peer = {
        label: 'dvcl repro copy -j 4',
        setup: () => { emptyRemote(); return clone('shard-peer'); },
        async timed(d) {
          const r = await timedSpawn(dvcl('repro', 'copy', '-j', '4', '--json'), d, {}, 'peer');
          const ran = JSON.parse(r.stdout).stages.reduce((sum, st) => sum + (st.items?.ran ?? 0), 0);
          if (ran !== n) throw new Error(`shard peer: ${ran} items ran, not ${n}`);
          return { ms: r.ms, kb: r.kb };
        },
      };
      const sharded = (label, env) => ({
        label,
        setup: () => { emptyRemote(); return [1, 2, 3, 4].map((k) => clone(`shard-w${k}`)); },
        async timed(ws) {
          const t0 = process.hrtime.bigint();
          const workers = await Promise.all(ws.map((w, i) => timedSpawn(dvcl('repro', 'copy', '--shard', `${i + 1}/4`, '-j', '1'), w, env, `w${i + 1}`)));
          const g = await timedSpawn(dvcl('gather', '--json'), ws[0], {}, 'gather');
          const ms = Number(process.hrtime.bigint() - t0) / 1e6;
          const st = JSON.parse(g.stdout).stages[0];
          if (!st.complete || st.uncovered !== 0 || st.items_total !== n) throw new Error(`${label}: gather not complete (${g.stdout})`);
          const kbs = [...workers, g].map((r) => r.kb).filter((kb) => kb !== null);
          return { ms, kb: kbs.length ? Math.max(...kbs) : null, fragments: countFragments(), workers: Math.max(...workers.map((r) => r.ms)), gather: g.ms };
        },
      });
      const contenders = [
        peer,
        sharded('4 × repro copy --shard K/4 -j 1, then gather', {}), // DVCL_SHARD_FLUSH_MS unset: the default, 30 s
        sharded('the same, DVCL_SHARD_FLUSH_MS=100', { DVCL_SHARD_FLUSH_MS: '100' }),
      ];
      const rounds = Math.max(3, REPS);
      const samples = contenders.map(() => []);
      for (let i = -1; i < rounds; i++) { // round -1: the warm-up, not counted
        const order = contenders.map((_, j) => j);
        if (i % 2) order.reverse();
        for (const j of order) {
          const arg = contenders[j].setup();
          const r = await contenders[j].timed(arg);
          if (i >= 0) samples[j].push(r);
          log(`  ${i < 0 ? 'warm-up' : `round ${i + 1}`}: ${contenders[j].label} ${fmtMs(r.ms)}${r.fragments ? ` (workers ${fmtMs(r.workers)}, gather ${fmtMs(r.gather)}, ${r.fragments} fragments)` : ''}`);
        }
      }
      const med = (j, k = 'ms') => median(samples[j].map((r) => r[k]));
      const mb = (j) => { const kbs = samples[j].map((r) => r.kb).filter((kb) => kb !== null); return kbs.length ? Math.max(...kbs) / 1024 : null; };
      const [p, s, f] = [0, 1, 2].map((j) => med(j));
      rows.push(['shard', `${n.toLocaleString('en-US')} \`cp\` items, folder remote: 4 shard workers at once (\`-j 1\`) + gather vs one \`repro -j 4\`, fresh clones, ${rounds} rounds`,
        `4 shards + gather ${fmtMs(s)}`, `repro -j 4 ${fmtMs(p)}`, ratio(s, p), '≤ 1.2x repro -j 4', verdict(s <= 1.2 * p), fmtMb(mb(1))]);
      notes.push(`shard: medians over ${rounds} rounds — workers (all 4 done) ${fmtMs(med(1, 'workers'))}, gather ${fmtMs(med(1, 'gather'))}, ${med(1, 'fragments')} fragments; ` +
        `with DVCL_SHARD_FLUSH_MS=100: ${fmtMs(f)} in all (${ratio(f, p)} the peer, ${ratio(f, s)} the default flush), workers ${fmtMs(med(2, 'workers'))}, gather ${fmtMs(med(2, 'gather'))}, ${med(2, 'fragments')} fragments. ` +
        `The peer's peak RSS ${fmtMb(mb(0))}; the shard row's is the largest of any worker or gather.`);
      for (const w of [1, 2, 3, 4]) fs.rmSync(path.join(TMP, `shard-w${w}`), { recursive: true, force: true });
      fs.rmSync(path.join(TMP, 'shard-peer'), { recursive: true, force: true });
      emptyRemote();
    },
  },
  {
    id: 'gather',
    optIn: true, // 100 generated fragments of 100,000 items: only with BENCH_ONLY=gather (or shard,gather)
    async run() {
      const g = await gatherProject();
      const reset = () => { for (const f of ['.manifest.json', '.manifest.json.bak', 'pipeline.lock', '.dvcl']) fs.rmSync(path.join(g.dir, f), { recursive: true, force: true }); };
      reset();
      const check = JSON.parse(dvclOk(g.dir, 'gather', '--json')).stages[0];
      if (!check.complete || check.recorded !== 100_000 || check.fragments !== g.fragments) throw new Error(`gather100k: ${JSON.stringify(check)}`);
      const [gt] = race([{ label: 'dvcl gather', argv: dvcl('gather'), cwd: g.dir, before: reset }]);
      rows.push(['shard-gather', `gather of ${g.fragments} fragments (${(g.bytes / 1e6).toFixed(0)} MB, 50 shards) covering 100,000 items, nothing gathered before`, `dvcl gather ${fmtMs(gt.ms)}`, '—', '—',
        '≤ 2 s, ≤ 300 MB', verdict(gt.ms <= 2000 && (gt.mb === null || gt.mb <= 300)), fmtMb(gt.mb)]);
    },
  },
  {
    id: 'noop',
    run() {
      const dir = fiftyStages();
      const small = project('small', 'version: 1\nstages:\n  copy:\n    cmd: cp in.txt out.txt\n    deps: [in.txt]\n    outs: [out.txt]\n', { 'in.txt': 'x\n' });
      dvclOk(small, 'repro');
      // --version answers without loading the CLI (issue 17); with DEBUG set it goes through oclif,
      // which is the start-up the no-op repro is held against (DEBUG=none enables no debug output).
      // Every dvcl figure is with a warm code cache: race's warm-up run writes it (~/.cache/dvcl/v8).
      const [r, v, o, s, n] = race([
        { label: 'dvcl repro (no-op)', argv: dvcl('repro'), cwd: dir },
        { label: 'dvcl --version', argv: dvcl('--version'), cwd: dir },
        { label: 'dvcl --version (oclif)', argv: dvcl('--version'), cwd: dir, env: { DEBUG: 'none' } },
        { label: 'dvcl status (1 stage)', argv: dvcl('status'), cwd: small },
        { label: 'node -e 0', argv: ['node', '-e', '0'], cwd: dir },
      ]);
      rows.push(['noop', 'no-op `repro`, 50 stages', `dvcl repro ${fmtMs(r.ms)}`, `node -e 0 ${fmtMs(n.ms)}`, ratio(r.ms, n.ms),
        '≤ 3x node', verdict(r.ms <= 3 * n.ms), fmtMb(r.mb)]);
      notes.push(`noop: against \`--version\` through oclif (${fmtMs(o.ms)}) the no-op repro is ${ratio(r.ms, o.ms)}.`);
      rows.push(['startup', 'start-up: `dvcl --version`', `dvcl --version ${fmtMs(v.ms)}`, `node -e 0 ${fmtMs(n.ms)}`, ratio(v.ms, n.ms),
        '≤ 1.6x node', verdict(v.ms <= 1.6 * n.ms), fmtMb(v.mb)]);
      rows.push(['startup-status', 'start-up: `dvcl status`, 1 stage, up to date', `dvcl status ${fmtMs(s.ms)}`, `node -e 0 ${fmtMs(n.ms)}`, ratio(s.ms, n.ms),
        '—', '', fmtMb(s.mb)]);
    },
  },
  {
    id: 'manifest',
    run() {
      const dir = recordedItems();
      const [s] = race([{ label: 'dvcl status', argv: dvcl('status'), cwd: dir }]);
      const size = fs.statSync(path.join(dir, '.manifest.json')).size;
      rows.push(['manifest', `status, 100,000-item manifest (${(size / 1e6).toFixed(0)} MB), nothing changed`, `dvcl status ${fmtMs(s.ms)}`, '—', '—',
        '≤ 0.5 s, ≤ 150 MB', verdict(s.ms <= 500 && (s.mb === null || s.mb <= 150)), fmtMb(s.mb)]);
    },
  },
  {
    id: 'manifest1m',
    optIn: true, // 1,000,000 inputs and outputs written and recorded: minutes and GBs, only with BENCH_ONLY=manifest1m
    run() {
      const dir = recordedItems(1_000_000);
      const [s] = race([{ label: 'dvcl status', argv: dvcl('status'), cwd: dir }], Math.min(REPS, 3));
      const size = fs.statSync(path.join(dir, '.manifest.json')).size;
      rows.push(['manifest1m', `status, 1,000,000-item manifest (${(size / 1e6).toFixed(0)} MB), nothing changed`, `dvcl status ${fmtMs(s.ms)}`, '—', '—',
        '≤ 5 s, ≤ 1 GB', verdict(s.ms <= 5000 && (s.mb === null || s.mb <= 1024)), fmtMb(s.mb)]);
    },
  },
  {
    id: 'stages',
    optIn: true, // thousands of stages set up and run: minutes, only with BENCH_ONLY=stages
    run() {
      for (const n of [500, 2000]) {
        const dir = manyStages(n);
        const [d, m] = race([
          { label: `dvcl repro -j 2 (${n} stages)`, argv: ['sh', '-c', `sh bump.sh && ${dvcl('repro', '-j', '2').join(' ')}`], cwd: dir },
          { label: 'make -B -j2', argv: ['sh', '-c', 'sh bump.sh && make -B -j2 -s'], cwd: dir },
        ], Math.min(REPS, 3));
        rows.push(['stages', `repro of ${n.toLocaleString('en-US')} trivial stages, a param of each changed`, `dvcl repro -j 2 ${fmtMs(d.ms)}`, `make -B -j2 ${fmtMs(m.ms)}`,
          ratio(d.ms, m.ms), '≤ 2x make', verdict(d.ms <= 2 * m.ms), fmtMb(d.mb)]);
      }
      for (const c of [4000, 10000]) {
        const chain = chainedStages(c);
        const [st, node] = race([
          { label: `dvcl status (${c} chained stages)`, argv: dvcl('status'), cwd: chain },
          { label: 'node -e 0', argv: ['node', '-e', '0'], cwd: chain },
        ], Math.min(REPS, 3));
        const limit = c === 4000 ? 500 : 1000;
        rows.push(['stages', `status of ${c.toLocaleString('en-US')} chained stages, nothing changed`, `dvcl status ${fmtMs(st.ms)}`, `node -e 0 ${fmtMs(node.ms)}`,
          ratio(st.ms, node.ms), `≤ ${limit / 1000} s`, verdict(st.ms <= limit), fmtMb(st.mb)]);
      }
    },
  },
  {
    id: 'jobs',
    run() {
      const dir = sleepPair();
      const [two, one] = race([
        { label: 'dvcl repro -f -j 2', argv: dvcl('repro', '-f', '-j', '2'), cwd: dir },
        { label: 'dvcl repro -f -j 1', argv: dvcl('repro', '-f', '-j', '1'), cwd: dir },
      ], Math.min(REPS, 3));
      rows.push(['jobs', 'two independent `sleep 2` stages', `-j 2 ${fmtMs(two.ms)}`, `-j 1 ${fmtMs(one.ms)}`, ratio(two.ms, one.ms),
        '≈ 2 s vs ≈ 4 s', verdict(two.ms < 2600 && one.ms >= 4000 && one.ms < 4600), fmtMb(two.mb)]);
    },
  },
];

// ---------------------------------------------------------------------------------------------

function build() {
  const git = (...args) => spawnSync('git', args, { cwd: PKG, encoding: 'utf8' });
  const head = git('rev-parse', '--short', 'HEAD');
  if (head.status !== 0) return PKG;
  const dirty = git('status', '--porcelain', '--untracked-files=no', '--', 'src', 'bin', 'scripts').stdout.trim() !== '';
  return `commit ${head.stdout.trim()}${dirty ? ' with uncommitted changes' : ''}`;
}

function machine() {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.availableParallelism()} × ${cpu}, ${(os.totalmem() / GIB).toFixed(0)} GiB RAM, ${os.type()} ${os.release()}, node ${process.version}`;
}

function table() {
  const head = ['id', 'scenario', 'dvcl', 'peer', 'ratio', 'target', '', 'dvcl peak RSS'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

fs.writeFileSync(MEM_HOOK, "import fs from 'node:fs';\nprocess.on('exit', () => { fs.writeFileSync(process.env.BENCH_MAXRSS_FILE ?? " +
  `${JSON.stringify(path.join(TMP, 'maxrss'))}, String(process.resourceUsage().maxRSS)); });\n`);
const started = Date.now();
const loadBefore = os.loadavg()[0];
log(`dvcl bench: ${BIN}, ${REPS} repetitions, in ${TMP}`);
if (!TIME) notes.push('GNU time (`/usr/bin/time`) is missing: peak memory is node\'s own `maxRSS`, read at exit, for dvcl only.');
const cleanUp = () => {
  if (process.env.BENCH_KEEP) log(`kept ${TMP}`);
  else fs.rmSync(TMP, { recursive: true, force: true }); // 200,000 files: ~30 s, after the report
};
try {
  for (const s of scenarios) {
    if (ONLY ? !ONLY.has(s.id) : s.optIn) continue;
    const t0 = Date.now();
    log(`- ${s.id} ...`);
    await s.run();
    log(`  ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
} catch (err) {
  cleanUp();
  throw err;
}
const report = [
  `Machine: ${machine()}. dvcl: ${build()}.`,
  `Medians of ${REPS} alternating repetitions (the sleep pair: ${Math.min(REPS, 3)}) after one warm-up each; load average ${loadBefore.toFixed(2)} at the start, ${os.loadavg()[0].toFixed(2)} at the end; ${((Date.now() - started) / 1000).toFixed(0)} s in all.`,
  'Ratios are dvcl / peer (time), except for hashing, where they are speed-ups over the peer.',
  '',
  table(),
  '',
  ...notes.map((n) => `- ${n}`),
  '',
].join('\n');
process.stdout.write(`\n${report}`);
if (!ONLY) fs.writeFileSync(OUT, `# dvcl benchmark results\n\n${report}`);
log('removing the scenario folders ...');
cleanUp();
