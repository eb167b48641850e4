// The recipes of docs/SCALE-OUT.md, as far as this machine allows: no Slurm, Kubernetes or GitHub
// here, but engines only start processes. Each test reads its recipe from the page, checks what
// keeps it consistent (N written in two places, failure policies), then runs its worker and gather
// commands with the built CLI, the engine's variables set as the engine sets them, against a folder
// remote, with a small N (3) rather than the page's, and checks that gather is complete and that a
// fresh clone's repro runs nothing. Items append their stem to a counter file outside the repos.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, json, type CliResult } from './helpers/cli.js';
import { cleanupRepos, cloneOf, pipelineRepo, tempDir, type PipelineRepo } from './helpers/pipeline.js';

afterEach(cleanupRepos);

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DOC = fs.readFileSync(path.join(ROOT, 'docs/SCALE-OUT.md'), 'utf8');
const ITEMS = 12;
const SMALL = 3; // the N simulated here, whatever the page's N

/** The page's fenced blocks of one language. */
function blocks(lang: string): string[] {
  return [...DOC.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].filter((m) => m[1] === lang).map((m) => m[2]);
}

function only<T>(found: T[], what: string): T {
  expect(found.length, `docs/SCALE-OUT.md: one ${what}`).toBe(1);
  return found[0];
}

function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  expect(r.status, `git ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout.trim();
}

const clone = (from: string) => cloneOf(from, 'dvcl-worker-');

const RC = (remote: string) => `version: 1
settings:
  remote: ${JSON.stringify(remote)}
stages:
  list:
    cmd: ls in > list.txt
    deps: [in]
    outs: [list.txt]
  extract:
    foreach: in/*.txt
    out: out/\${stem}.up
    deps: [list.txt, tool.txt]
    cmd: tr a-z A-Z < \${item} > \${out} && echo \${stem} >> "$COUNTER"
`;

interface Setup { a: PipelineRepo; remote: string; counter: string; env: Record<string, string> }

/**
 * "Before you start": the project committed, its upstream run once and pushed, the lock committed.
 * Not set up by `dvcl init` (as many a project is not, or by an older dvcl): the gather job's
 * `dvcl init` then changes .gitignore, which its `git pull --rebase` must survive.
 */
async function setup(): Promise<Setup> {
  const remote = tempDir('dvcl-remote-');
  const files: Record<string, string> = { 'tool.txt': 'v1\n', '.gitignore': '.dvcl/\nlist.txt\nout/\n.manifest.json.bak\n' };
  for (let i = 0; i < ITEMS; i++) files[`in/f${String(i).padStart(2, '0')}.txt`] = `item ${i}\n`;
  const a = await pipelineRepo(RC(remote), files);
  const counter = path.join(tempDir('dvcl-counter-'), 'count');
  // `dvcl` on PATH, as `npm install -g dvcl` or an image would put it.
  const bin = tempDir('dvcl-bin-');
  fs.writeFileSync(path.join(bin, 'dvcl'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`, { mode: 0o755 });
  const env = { PATH: `${bin}${path.delimiter}${process.env.PATH}`, HOME: process.env.HOME ?? os.homedir(), NO_COLOR: '1', LANG: 'C.UTF-8', COUNTER: counter };
  const s = { a, remote, counter, env };
  await ok(dvcl(s, a.dir, 'repro', 'list'));
  await ok(dvcl(s, a.dir, 'push'));
  a.commitAll('list ran');
  return s;
}

function run(cmd: string, args: string[], cwd: string, env: Record<string, string>): Promise<CliResult> {
  const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

const dvcl = (s: Setup, cwd: string, ...args: string[]) => run(process.execPath, [BIN, ...args], cwd, s.env);

async function ok(p: Promise<CliResult>, what = ''): Promise<CliResult> {
  const r = await p;
  expect(r.code, `${what}\n${r.stdout}${r.stderr}`).toBe(0);
  return r;
}

const lines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

/** gather --json in `dir`: complete, from shards 1..SMALL; every item ran once, across the workers. */
async function gathered(s: Setup, dir: string, env: Record<string, string> = {}, line = 'dvcl gather --json'): Promise<void> {
  const st = json(await ok(run('sh', ['-c', line], dir, { ...s.env, ...env }), line)).stages[0];
  expect(st).toMatchObject({ stage: 'extract', complete: true, uncovered: 0, failed: 0, shard_count: SMALL, missing_shards: [] });
  expect(st.shards).toEqual(Array.from({ length: SMALL }, (_, i) => i + 1));
  ranOnce(s);
}

function ranOnce(s: Setup): void {
  const ran = lines(s.counter);
  expect(new Set(ran).size).toBe(ITEMS);
  expect(ran.length).toBe(ITEMS);
}

/** A fresh clone of `from` (where the gathered ledger is committed): pull, then repro runs nothing. */
async function freshRunsNothing(s: Setup, from: string): Promise<void> {
  const fresh = clone(from);
  await ok(dvcl(s, fresh.dir, 'pull'));
  for (let i = 0; i < ITEMS; i++) expect(fresh.read(`out/f${String(i).padStart(2, '0')}.up`)).toBe(`ITEM ${i}\n`);
  const n = lines(s.counter).length;
  const r = json(await ok(dvcl(s, fresh.dir, 'repro', '--json')));
  expect(r.stages.find((x: any) => x.name === 'extract')).toMatchObject({ result: 'skipped', items: { ran: 0, total: ITEMS } });
  expect(lines(s.counter).length).toBe(n);
}

describe('docs/SCALE-OUT.md recipes', () => {
  it('Slurm: the sbatch script, run once per task of a small array, clones, shards by the array index; gather in $REPO is complete', async () => {
    const script = only(blocks('bash').filter((b) => b.startsWith('#!/bin/bash') && b.includes('#SBATCH --array')), 'sbatch script');
    const array = /^#SBATCH --array=(\d+)-(\d+)%(\d+)$/m.exec(script);
    expect(array, '#SBATCH --array=A-B%C').not.toBeNull();
    const [first, last, slots] = array!.slice(1).map(Number);
    expect(first).toBe(1); // the prose: "SLURM_ARRAY_TASK_ID runs from 1 ... shard K is the task's id"
    expect(slots).toBeLessThanOrEqual(last - first + 1);
    expect(DOC).toContain(`With \`--array=${first}-${last}\``);
    expect(DOC).toContain(`${last - first + 1} shards for ${slots} slots`);
    expect(script).toMatch(/^dvcl repro extract --shard auto --pull\b/m);
    const gatherLine = /--wrap '([^']*dvcl gather[^']*)'/.exec(only(blocks('sh').filter((b) => b.includes('sbatch --dependency')), 'sbatch gather line'));
    expect(gatherLine, "sbatch --wrap '... dvcl gather ...'").not.toBeNull();

    const s = await setup();
    const file = path.join(tempDir('dvcl-sbatch-'), 'extract.sbatch');
    fs.writeFileSync(file, script);
    const tmp = tempDir('dvcl-slurm-tmp-');
    // As sbatch would start `--array=1-3`: every task at once (3 is within any %C). The remote is
    // the project's settings.remote (a folder, as on shared scratch); tasks 1 and 2 are also given
    // it as DVCL_REMOTE (exported before sbatch), task 3 is not: it must then use settings.remote.
    const tasks = await Promise.all(Array.from({ length: SMALL }, (_, i) => run('bash', [file], '/', {
      ...s.env, SLURM_ARRAY_TASK_ID: String(i + 1), SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_MAX: String(SMALL),
      SLURM_ARRAY_TASK_COUNT: String(SMALL), SLURM_ARRAY_JOB_ID: '42', SLURM_CPUS_PER_TASK: '1', USER: 'tester',
      REPO: s.a.dir, TMPDIR: tmp, ...(i + 1 < SMALL ? { DVCL_REMOTE: s.remote } : {}),
    })));
    tasks.forEach((r, i) => {
      expect(r.code, `task ${i + 1}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stderr).toContain(`shard ${i + 1}/${SMALL} (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN=${i})`);
    });
    expect(fs.readdirSync(tmp)).toEqual([]); // each task removed its clone

    // The gather job, `cd ~/pipeline && dvcl gather extract`, with ~/pipeline the repository
    // (plus --json, to read its report).
    const home = tempDir('dvcl-home-');
    fs.symlinkSync(s.a.dir, path.join(home, 'pipeline'));
    await gathered(s, '/', { HOME: home }, `${gatherLine![1]} --json`);
    s.a.commitAll('extract: gathered');
    await freshRunsNothing(s, s.a.dir);
  }, 90_000);

  it('Kubernetes: the Indexed Job, its container command run per completion index; gather is complete', async () => {
    const job = parseYaml(only(blocks('yaml').filter((b) => /^kind: Job$/m.test(b)), 'Job manifest'));
    const spec = job.spec;
    expect(spec.completionMode).toBe('Indexed');
    expect(spec.backoffLimitPerIndex).toBeGreaterThan(0);
    expect(spec.template.spec.restartPolicy).toBe('Never'); // backoffLimitPerIndex requires it
    expect(spec.parallelism).toBeLessThanOrEqual(spec.completions);
    const container = only(spec.template.spec.containers as any[], 'container');
    const command: string[] = container.command;
    expect(command[0]).toBe('dvcl');
    const at = command.findIndex((x) => /^auto\/\d+$/.test(x));
    expect(at, `auto/N in ${JSON.stringify(command)}`).toBeGreaterThan(0);
    expect(command[at - 1]).toBe('--shard');
    expect(Number(command[at].slice('auto/'.length)), 'auto/N must repeat completions').toBe(spec.completions);
    expect(command).toContain('--pull');
    const envList = container.env as { name: string; value: string }[];
    expect(envList.map((e) => e.name)).toContain('DVCL_REMOTE');

    const s = await setup();
    // Not the page's N pods: the same command with auto/N rewritten to auto/3, and completion
    // indexes 0, 1, 2 (all at once); the manifest's remote replaced by the folder remote.
    const args = command.slice(1).map((x, i) => (i + 1 === at ? `auto/${SMALL}` : x));
    const podEnv = Object.fromEntries(envList.map((e) => [e.name, e.name === 'DVCL_REMOTE' ? s.remote : String(e.value)]));
    const pods = await Promise.all(Array.from({ length: SMALL }, (_, i) => run(process.execPath, [BIN, ...args], clone(s.a.dir).dir, {
      ...s.env, ...podEnv, JOB_COMPLETION_INDEX: String(i),
    })));
    pods.forEach((r, i) => {
      expect(r.code, `index ${i}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stderr).toContain(`shard ${i + 1}/${SMALL} (JOB_COMPLETION_INDEX=${i})`);
    });
    await gathered(s, s.a.dir);
    s.a.commitAll('extract: gathered');
    await freshRunsNothing(s, s.a.dir);
  }, 90_000);

  it('GitHub Actions: the matrix workers in separate checkouts, then the gather job commits and pushes (after a push by someone else)', async () => {
    const wf = parseYaml(only(blocks('yaml').filter((b) => /^jobs:$/m.test(b) && /^\s+strategy:$/m.test(b)), 'workflow'));
    const shard = wf.jobs.shard;
    expect(shard.strategy['fail-fast']).toBe(false);
    const matrix: number[] = shard.strategy.matrix.shard;
    const N = matrix.length;
    expect(matrix).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    const workerRuns: string[] = shard.steps.map((st: any) => st.run).filter((r: any) => typeof r === 'string' && r.startsWith('dvcl'));
    expect(only(workerRuns, 'dvcl step in the shard job')).toContain(`--shard \${{ matrix.shard }}/${N} `);
    const gatherJob = wf.jobs.gather;
    expect(gatherJob.needs).toBe('shard');
    expect(gatherJob.if).toMatch(/!cancelled\(\)|always\(\)/);
    const gatherRuns: string[] = gatherJob.steps.map((st: any) => st.run).filter((r: any) => typeof r === 'string' && (r.startsWith('dvcl') || r.includes('\n')));
    expect(gatherRuns.some((r) => /^dvcl gather\b/.test(r))).toBe(true);
    const commitScript = only(gatherRuns.filter((r) => r.includes('\n')), 'multi-line run step in the gather job');
    expect(commitScript).toMatch(/git commit/);

    const s = await setup();
    // GitHub's repository: a bare one; the project is pushed to it, checkouts clone it.
    const bare = path.join(tempDir('dvcl-bare-'), 'repo.git');
    git(os.tmpdir(), 'clone', '-q', '--bare', s.a.dir, bare);
    const sha = git(bare, 'rev-parse', 'HEAD');
    const env = { ...s.env, ...Object.fromEntries(Object.entries(wf.env as Record<string, string>).map(([k, v]) => [k, String(v).replace(/\$\{\{ secrets\.\w+ \}\}/, 'unused')])) };
    const expand = (line: string, vars: Record<string, string>) => {
      let out = line;
      for (const [k, v] of Object.entries(vars)) out = out.split(`\${{ ${k} }}`).join(v);
      expect(out, 'every ${{ }} expression substituted').not.toContain('${{');
      return out;
    };

    // Not the page's N jobs: matrix [1, 2, 3], the command's /N rewritten to /3, all at once.
    const worker = workerRuns[0].replace(`/${N} `, `/${SMALL} `);
    const jobs = await Promise.all(Array.from({ length: SMALL }, (_, i) => run('sh', ['-c', expand(worker, { 'matrix.shard': String(i + 1) })], clone(bare).dir, env)));
    jobs.forEach((r, i) => {
      expect(r.code, `shard ${i + 1}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stderr).toContain(`shard ${i + 1}/${SMALL} (--shard)`);
    });

    // Meanwhile someone pushes to the branch: the gather job's `git pull --rebase` must cope.
    const other = clone(bare);
    other.write('NOTES', 'meanwhile\n');
    other.git('add', 'NOTES');
    other.git('-c', 'user.name=Other', '-c', 'user.email=other@example.org', '-c', 'commit.gpgsign=false', 'commit', '-q', '-m', 'meanwhile');
    other.git('push', '-q');

    // The gather job: a checkout at the workers' commit, its dvcl steps, then its commit script.
    // As actions/checkout@v4 does: a shallow fetch of github.sha, then main on it (tracking origin/main).
    const checkout = clone(bare);
    fs.rmSync(checkout.dir, { recursive: true, force: true });
    git(os.tmpdir(), 'init', '-q', checkout.dir);
    checkout.git('remote', 'add', 'origin', `file://${bare}`);
    checkout.git('fetch', '-q', '--depth=1', 'origin', `+${sha}:refs/remotes/origin/main`);
    checkout.git('checkout', '-q', '--force', '-B', 'main', 'refs/remotes/origin/main');
    checkout.git('config', 'commit.gpgsign', 'false');
    for (const step of gatherRuns) {
      // GitHub's default shell on Linux: bash --noprofile --norc -eo pipefail {0}
      const r = await run('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', expand(step, { 'github.sha': sha })], checkout.dir, env);
      expect(r.code, `${step}\n${r.stdout}${r.stderr}`).toBe(0);
    }
    expect(git(bare, 'log', '-1', '--format=%s', 'main')).toBe(`extract: gathered ${sha}`);
    expect(git(bare, 'log', '-2', '--format=%s', 'main').split('\n')[1]).toBe('meanwhile');
    // (gather cannot be asked again here: the rebase moved HEAD off the workers' commit)
    expect(git(bare, 'show', 'main:pipeline.lock')).toMatch(/extract:[\s\S]*items:\n\s+count: 12/);
    ranOnce(s);
    await freshRunsNothing(s, bare);
  }, 90_000);
});
