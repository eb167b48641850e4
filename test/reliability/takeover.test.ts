import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Manifest } from '../../src/core/ledger/manifest.js';
import { BIN, cliEnv, dvcl, dvclSpawn, type CliResult } from '../helpers/cli.js';
import { gitRepo, type GitRepo } from '../helpers/git-repo.js';
import { killMarkedGroups, lines, scratch, waitFor } from './support.js';

// Issue 11, what happens between a crash and the run that takes over: nothing of the crashed run
// is recovered, written or deleted before the run lock is held (point 2); once it holds the lock,
// it clears the files the killed run's item shells left in .dvcl/tmp/ (point 9).

const MARKER = `dvcl-reli-take-${process.pid}`;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  await killMarkedGroups(MARKER).catch(() => 0);
  while (cleanups.length) cleanups.pop()!();
});

/** A per-item stage of quick copies; the item `in/z.txt` waits for a `go` file, so a run can be held at its end. */
const RC = `version: 1
stages:
  copy:
    foreach: in/*.txt
    out: out/\${stem}.out
    cmd: ': ${MARKER}; if [ \${stem} = z ]; then while [ ! -e "$RELI_CTL/go" ]; do sleep 0.05; done; fi; cp \${item} \${out} && echo \${item} >> "$RELI_CTL/done.log"'
`;

interface Crashed { repo: GitRepo; ctl: string; env: Record<string, string>; done: string; journal: string }

/** Items whose result dvcl has recorded (manifest plus journal), read as the next command will. */
function recorded(root: string): Set<string> {
  const m = Manifest.load({ root, readOnly: true, onWarning: () => {} });
  return new Set(Object.keys(m.stage('copy')?.items ?? {}));
}

const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/s.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/**
 * A project whose `repro` recorded `in/a0`…`a7` in its journal and was killed (-9) while held at
 * `in/z.txt`; then `in/b0`…`b5` were added, for the next run to record.
 */
async function crashed(): Promise<Crashed> {
  const files: Record<string, string> = { '.pipelinerc': RC, '.gitignore': '.dvcl/\n', 'in/z.txt': 'z\n' };
  for (let i = 0; i < 8; i++) files[`in/a${i}.txt`] = `a${i}\n`;
  const repo = await gitRepo(files);
  const ctl = scratch('dvcl-reli-take-');
  cleanups.push(repo.cleanup, ctl.cleanup);
  const env = { RELI_CTL: ctl.dir };
  const run = dvclSpawn(repo.dir, ['repro', '-j', '1'], { env });
  cleanups.push(() => run.child.kill('SIGKILL'));
  await waitFor(() => recorded(repo.dir).size >= 8, 'the first run to record the a items');
  run.child.kill('SIGKILL');
  await run.done;
  await killLeftovers(repo.dir);
  const journal = path.join(repo.dir, '.dvcl', 'journal.jsonl');
  expect(fs.existsSync(journal)).toBe(true);
  expect(fs.existsSync(path.join(repo.dir, '.manifest.json'))).toBe(false); // all it did is in the journal
  for (let i = 0; i < 6; i++) repo.write(`in/b${i}.txt`, `b${i}\n`);
  return { repo, ctl: ctl.dir, env, done: path.join(ctl.dir, 'done.log'), journal };
}

/**
 * What a killed run left running: its item shells (their command line names their files in
 * `.dvcl/tmp/`), each leading the group of the item it runs.
 */
async function killLeftovers(root: string): Promise<void> {
  await killMarkedGroups(MARKER);
  await killMarkedGroups(path.join(root, '.dvcl', 'tmp'));
}

/** The pid in `.dvcl/run.lock`, when a live process holds it. */
function lockHolder(root: string): number | null {
  try {
    const pid = JSON.parse(fs.readFileSync(path.join(root, '.dvcl/run.lock/holder.json'), 'utf8')).pid as number;
    return isRunning(pid) ? pid : null;
  } catch {
    return null;
  }
}

/**
 * The runs started after the crash have settled: all but one exited 3 (busy), and the one left
 * holds the run lock and has run every b item. It is killed (-9) once it has recorded them (or
 * after a while, when they were lost), then `repro` is run to the end: it must run only what the
 * killed winner had not recorded, the held `in/z.txt`.
 */
async function killWinnerThenFinish(c: Crashed, runs: { done: Promise<CliResult> }[]): Promise<{ losers: CliResult[]; rerun: string[] }> {
  const B = Array.from({ length: 6 }, (_, i) => `in/b${i}.txt`);
  const settled: CliResult[] = [];
  for (const r of runs) void r.done.then((res) => settled.push(res));
  await waitFor(() => settled.length >= runs.length - 1, 'every run but one to exit', 60_000);
  await waitFor(() => B.every((b) => lines(c.done).includes(b)), 'the winner to run the b items', 60_000);
  // The winner records each item once its command is done; give it the time to.
  await waitFor(() => B.every((b) => recorded(c.repo.dir).has(b)), 'the b items to be recorded', 15_000).catch(() => undefined);
  const winner = await waitFor(() => lockHolder(c.repo.dir), 'the winner to hold the run lock');
  process.kill(winner, 'SIGKILL');
  await killLeftovers(c.repo.dir); // (strace, tracing the winner's item shells too, waits for them)
  await waitFor(() => settled.length === runs.length, 'the winner to die');
  const start = lines(c.done).length;
  fs.writeFileSync(path.join(c.ctl, 'go'), '');
  const last = dvcl(c.repo.dir, ['repro'], { env: c.env });
  expect(last.code, last.stderr).toBe(0);
  return { losers: settled.filter((r) => r.signal !== 'SIGKILL' && r.code !== 137), rerun: lines(c.done).slice(start) };
}

describe('recovery of a crashed run waits for the run lock (issue 11, point 2)', () => {
  it('status after the crash folds the journal in memory and writes nothing', async () => {
    const c = await crashed();
    const journal = fs.readFileSync(c.journal, 'utf8');
    const st = dvcl(c.repo.dir, ['status', '--json'], { env: c.env });
    expect([0, 1], st.stderr).toContain(st.code);
    expect(JSON.parse(st.stdout).stages[0].items.success).toBe(8);
    expect(fs.readFileSync(c.journal, 'utf8')).toBe(journal);
    expect(fs.existsSync(path.join(c.repo.dir, '.manifest.json'))).toBe(false);
  });

  it('a repro delayed between reading the journal and deleting it never deletes the journal of the run that won the lock', { timeout: 120_000 }, async () => {
    const c = await crashed();
    // The delayed run: its deletion of .dvcl/journal.jsonl waits 6 s (strace fault injection), long
    // after it read the crashed run's journal and saved what it held.
    const strace = spawnSync('strace', ['-V']);
    if (strace.error) throw new Error('this test needs strace (apt-get install strace)');
    const delayed = spawn('strace', [
      '-f', '-qq', '-o', '/dev/null', '-P', c.journal, '-e', 'trace=unlink,unlinkat',
      '-e', 'inject=unlink,unlinkat:delay_enter=6s', process.execPath, BIN, 'repro', '-j', '1',
    ], { cwd: c.repo.dir, env: cliEnv(c.env), stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(() => delayed.kill('SIGKILL'));
    const delayedRun = collect(delayed);
    await waitFor(() => fs.existsSync(path.join(c.repo.dir, '.manifest.json')), 'the delayed run to save the recovered items');
    // The other run starts while the delayed one is stuck before deleting the journal.
    const other = dvclSpawn(c.repo.dir, ['repro', '-j', '1'], { env: c.env });
    cleanups.push(() => other.child.kill('SIGKILL'));
    const { losers, rerun } = await killWinnerThenFinish(c, [delayedRun, other]);
    expect(rerun, 'the items the winner recorded before it was killed ran again').toEqual(['in/z.txt']);
    expect(losers.map((r) => r.code), losers.map((r) => r.stderr).join('\n')).toEqual([3]);
    expect(losers[0].stderr).not.toMatch(/recovered/);
  });

  it('after a crash, six repro started at once: one runs, five exit 3, and no recorded item is lost', { timeout: 120_000 }, async () => {
    const c = await crashed();
    const runs = Array.from({ length: 6 }, () => dvclSpawn(c.repo.dir, ['repro', '-j', '1'], { env: c.env }));
    for (const r of runs) cleanups.push(() => r.child.kill('SIGKILL'));
    const { losers, rerun } = await killWinnerThenFinish(c, runs);
    expect(rerun, 'the items recorded before the winner was killed ran again').toEqual(['in/z.txt']);
    expect(losers.map((r) => r.code), losers.map((r) => r.stderr).join('\n')).toEqual([3, 3, 3, 3, 3]);
    // A run that is refused the lock has recovered nothing: it read no state at all.
    for (const l of losers) expect(l.stderr).not.toMatch(/recovered/);
  });
});

describe('item-shell files of a killed run (issue 11, point 9)', () => {
  it('are removed by the run that takes over the lock; those of a live process are left alone', async () => {
    const c = await crashed();
    const tmp = path.join(c.repo.dir, '.dvcl', 'tmp');
    const left = fs.readdirSync(tmp);
    expect(left.length, 'the killed run left its item shell files').toBeGreaterThan(0);
    const live = `${process.pid}-copy-0.res`; // as if this process were a dvcl running items now
    fs.writeFileSync(path.join(tmp, live), '');
    expect(dvcl(c.repo.dir, ['status'], { env: c.env }).code).toBe(0);
    expect(fs.readdirSync(tmp).sort(), 'status removes nothing').toEqual([...left, live].sort());
    fs.writeFileSync(path.join(c.ctl, 'go'), '');
    const r = dvcl(c.repo.dir, ['repro'], { env: c.env });
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readdirSync(tmp)).toEqual([live]);
  });
});

function collect(child: ReturnType<typeof spawn>): { done: Promise<CliResult> } {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => { stdout += d; });
  child.stderr!.on('data', (d) => { stderr += d; });
  return { done: new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))) };
}
