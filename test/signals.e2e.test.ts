import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { dvclSpawn } from './helpers/cli.js';
import { cleanupRepos, pipelineRepo, type PipelineRepo } from './helpers/pipeline.js';

const killers: Array<() => void> = [];
afterEach(() => {
  while (killers.length) killers.pop()!();
  cleanupRepos();
});

/** Wait until `rel` exists in the repo (a stage has got that far). */
async function until(repo: PipelineRepo, rel: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!repo.exists(rel)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${rel}`);
    await sleep(25);
  }
}

/** Wait for a pid file a stage writes, complete (the shell creates the file before `echo` fills it). */
async function pidFrom(repo: PipelineRepo, rel: string): Promise<number> {
  await until(repo, rel);
  for (;;) {
    const m = /^(\d+)\n/.exec(repo.read(rel));
    if (m && Number(m[1]) > 1) return Number(m[1]);
    await sleep(10);
  }
}

/** Running, not a zombie: an orphan killed with its group waits for init to reap it, which can take a while. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc (macOS): kill(0) is all there is
  }
}

async function gone(pid: number, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
  return true;
}

/** Kill a process group left behind on purpose (kill -9 of dvcl cannot take its stages along). */
/** The process group of `pid`, from /proc (field 5 of its stat, after the parenthesised name). */
function groupOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

function killGroupLater(pid: number): void {
  if (!(pid > 1)) throw new Error(`not a process group: ${pid}`); // kill(-0) would hit the test runner
  killers.push(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch { /* already gone */ }
  });
}

/**
 * `quick` runs first; `slow` (downstream of it) writes the shell's pid,
 * says it started, then waits for a `go` file, at most 10 s.
 */
const GATED = `version: 1
stages:
  quick:
    cmd: echo q > quick.txt && echo quick >> runs.log
    outs: [quick.txt]
  slow:
    cmd: echo $$ > slow.pid && echo slow >> runs.log && i=0; while [ ! -e go ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; cp quick.txt slow.txt
    deps: [quick.txt]
    outs: [slow.txt]
`;

describe('run lock', () => {
  it('a second concurrent repro exits 3 at once naming the holder; status still works', async () => {
    const repo = await pipelineRepo(GATED);
    const first = dvclSpawn(repo.dir, ['repro']);
    killers.push(() => first.child.kill('SIGKILL'));
    await until(repo, 'slow.pid');

    const t0 = Date.now();
    const second = repo.run('repro');
    // at once: while the holder still waits at its gate, not after it
    expect(alive(first.child.pid!)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(second.code).toBe(3);
    expect(second.stderr).toMatch(new RegExp(`pid ${first.child.pid}\\b`));
    expect(second.stderr).not.toMatch(/\n\s+at /);
    expect(repo.run('status').code).toBe(0); // status never needs the run lock

    repo.write('go', '');
    const r = await first.done;
    expect(r.code, r.stderr).toBe(0);
    expect(repo.takeRuns()).toEqual(['quick', 'slow']);
    expect(repo.exists('.dvcl/run.lock')).toBe(false);
  });

  it('after kill -9 of a run, the next repro takes the lock over at once and keeps what had finished', async () => {
    const repo = await pipelineRepo(GATED);
    const first = dvclSpawn(repo.dir, ['repro']);
    killers.push(() => first.child.kill('SIGKILL'));
    const stageGroup = groupOf(await pidFrom(repo, 'slow.pid')); // the launcher's (launcher.ts)
    killGroupLater(stageGroup);
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    process.kill(-stageGroup, 'SIGKILL'); // the orphaned stage, which dvcl had no chance to stop
    expect(repo.exists('.dvcl/run.lock')).toBe(true);
    expect(Object.keys(parse(repo.lock()!).stages)).toEqual(['quick']);
    expect(repo.takeRuns()).toEqual(['quick', 'slow']);

    repo.write('go', '');
    const t0 = Date.now();
    const next = repo.run('repro');
    expect(next.code, next.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(repo.takeRuns()).toEqual(['slow']);
    expect(Object.keys(parse(repo.lock()!).stages)).toEqual(['quick', 'slow']);
  });
});

describe('signals', () => {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal}: the stage's whole process tree is stopped, exit ${code}, the run lock released, nothing unfinished recorded`, async () => {
      const repo = await pipelineRepo(`version: 1
stages:
  quick:
    cmd: echo q > quick.txt && echo quick >> runs.log
    outs: [quick.txt]
  slow:
    cmd: echo slow >> runs.log; sleep 30 & echo $! > sleep.pid; wait
    deps: [quick.txt]
    outs: [slow.txt]
`);
      const run = dvclSpawn(repo.dir, ['repro']);
      killers.push(() => run.child.kill('SIGKILL'));
      const sleepPid = await pidFrom(repo, 'sleep.pid');
      killers.push(() => { if (alive(sleepPid)) process.kill(sleepPid, 'SIGKILL'); });
      expect(alive(sleepPid)).toBe(true);

      run.child.kill(signal);
      const r = await run.done;
      expect(r.code, r.stderr).toBe(code);
      expect(await gone(sleepPid)).toBe(true);
      expect(r.stderr).toMatch(signal === 'SIGINT' ? /interrupted/ : /terminated/);
      expect(repo.exists('.dvcl/run.lock')).toBe(false);
      expect(Object.keys(parse(repo.lock()!).stages)).toEqual(['quick']);
      const st = repo.status();
      expect(st.stages[1]).toMatchObject({ name: 'slow', state: 'stale', reasons: [{ code: 'never_run' }] });
      expect(fs.existsSync(path.join(repo.dir, 'slow.txt'))).toBe(false);
    });
  }
});
