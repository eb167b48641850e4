import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { BIN, cliEnv, dvcl, dvclSpawn, json } from '../helpers/cli.js';
import { gitRepo, type GitRepo } from '../helpers/git-repo.js';
import { killMarkedGroups, lines, scratch, waitFor } from './support.js';

// Issue 11: `kill -9` at points a random kill seldom hits, forced with strace's fault injection
// (a system call held until the test has killed dvcl).

const MARKER = `dvcl-reli-kp-${process.pid}`;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  await killMarkedGroups(MARKER).catch(() => 0);
  while (cleanups.length) cleanups.pop()!();
});

async function project(rc: string): Promise<{ repo: GitRepo; ctl: string; env: Record<string, string> }> {
  const repo = await gitRepo({ '.pipelinerc': rc, '.gitignore': '.dvcl/\n' });
  const ctl = scratch('dvcl-reli-kp-');
  cleanups.push(repo.cleanup, ctl.cleanup);
  return { repo, ctl: ctl.dir, env: { RELI_CTL: ctl.dir } };
}

function needStrace(): void {
  if (spawnSync('strace', ['-V']).error) throw new Error('this test needs strace (apt-get install strace)');
}

/**
 * Start `dvcl args` under strace, with the system call `call` on `file` (a path, or a descriptor
 * open on it) held for a minute before it happens.
 */
function traced(dir: string, env: Record<string, string>, file: string, call: string, args: string[]) {
  const child = spawn('strace', [
    '-f', '-qq', '-o', '/dev/null', '-P', file, '-e', `trace=${call}`, '-e', `inject=${call}:delay_enter=60s`,
    process.execPath, BIN, ...args,
  ], { cwd: dir, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(() => child.kill('SIGKILL'));
  return {
    /**
     * kill -9 the dvcl process (found as the holder of the run lock). A tracee held by strace dies
     * only once strace lets it go, so strace goes too.
     */
    async kill9(root: string): Promise<void> {
      const pid = await waitFor(() => holderPid(root), 'dvcl to hold the run lock');
      process.kill(pid, 'SIGKILL');
      child.kill('SIGKILL');
      await waitFor(() => !exists(pid), `dvcl (pid ${pid}) to die and be reaped`);
    },
  };
}

/** Until it is reaped, a dead process still counts as a live lock holder for kill(pid, 0). */
const exists = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The dvcl process holding the project's run lock (under strace, a child of it). */
function holderPid(root: string): number | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, '.dvcl/run.lock/holder.json'), 'utf8')).pid as number;
  } catch {
    return null;
  }
}

describe('kill -9 between a stage\'s lock entry and its manifest record (issue 11, point 5)', () => {
  // The stage failed last time; now it succeeds, and dvcl is killed as it writes the lock entry.
  const rc = `version: 1
stages:
  s:
    cmd: ': ${MARKER}; test -e "$RELI_CTL/ok" && echo s > s.txt && echo s >> "$RELI_CTL/ran.log"'
    outs: [s.txt]
`;
  async function failedOnce() {
    const p = await project(rc);
    const first = dvcl(p.repo.dir, ['repro'], { env: p.env });
    expect(first.code, first.stderr).toBe(1);
    expect(json(dvcl(p.repo.dir, ['status', '--json'])).stages[0].state).toBe('failed');
    fs.writeFileSync(path.join(p.ctl, 'ok'), '');
    return p;
  }
  const lockEntry = (root: string) => {
    try {
      return parseYaml(fs.readFileSync(path.join(root, 'pipeline.lock'), 'utf8'))?.stages?.s ?? null;
    } catch {
      return null;
    }
  };

  it('killed just after pipeline.lock names the run: status says up to date and the next repro does not run it again', { timeout: 120_000 }, async () => {
    needStrace();
    const { repo, ctl, env } = await failedOnce();
    // pipeline.lock is written aside, renamed over, then the folder is fsynced: that fsync is held.
    const run = traced(repo.dir, env, repo.dir, 'fsync', ['repro']);
    await waitFor(() => lockEntry(repo.dir), 'the lock entry to be written');
    await run.kill9(repo.dir);
    expect(lines(path.join(ctl, 'ran.log'))).toEqual(['s']);

    const st = dvcl(repo.dir, ['status', '--json']);
    expect(json(st).stages[0], st.stderr).toMatchObject({ name: 's', state: 'up_to_date', reasons: [] });
    const again = dvcl(repo.dir, ['repro'], { env });
    expect(again.code, again.stderr).toBe(0);
    expect(lines(path.join(ctl, 'ran.log')), 'the stage ran again').toEqual(['s']);
    // The lock entry names a run the manifest records.
    const manifest = JSON.parse(fs.readFileSync(path.join(repo.dir, '.manifest.json'), 'utf8'));
    expect(manifest.stages.s).toMatchObject({ status: 'success', run: lockEntry(repo.dir).run });
    expect(manifest.runs[lockEntry(repo.dir).run]).toBeDefined();
  });

  it('killed as the stage\'s record is journaled: no lock entry either, the stage is not up to date and runs again', { timeout: 120_000 }, async () => {
    needStrace();
    const { repo, ctl, env } = await failedOnce();
    const journal = path.join(repo.dir, '.dvcl/journal.jsonl');
    const run = traced(repo.dir, env, journal, 'write', ['repro']);
    await waitFor(() => fs.existsSync(journal), 'the journal to be opened');
    await run.kill9(repo.dir);
    expect(lockEntry(repo.dir)).toBeNull();

    const st = json(dvcl(repo.dir, ['status', '--json'])).stages[0];
    expect(st.state).not.toBe('up_to_date');
    const again = dvcl(repo.dir, ['repro'], { env });
    expect(again.code, again.stderr).toBe(0);
    expect(lines(path.join(ctl, 'ran.log'))).toEqual(['s', 's']);
    expect(json(dvcl(repo.dir, ['status', '--json'])).stages[0].state).toBe('up_to_date');
  });
});

describe('a signal just after the run lock is taken (issue 11, point 7)', () => {
  const rc = `version: 1
stages:
  a:
    cmd: ': ${MARKER}; echo a > a.txt && echo a >> "$RELI_CTL/ran.log"'
    outs: [a.txt]
`;

  it('SIGTERM the moment .dvcl/run.lock appears: dvcl stops through its own handler (exit 143) and releases the lock', { timeout: 120_000 }, async () => {
    const { repo, ctl, env } = await project(rc);
    const stateDir = path.join(repo.dir, '.dvcl');
    fs.mkdirSync(stateDir);
    for (let trial = 0; trial < 5; trial++) {
      const run = dvclSpawn(repo.dir, ['repro'], { env });
      cleanups.push(() => run.child.kill('SIGKILL'));
      // inotify tells the moment the lock folder is created (or renamed into place).
      const watcher = fs.watch(stateDir, (_event, name) => {
        if (name === 'run.lock' && fs.existsSync(path.join(stateDir, 'run.lock'))) {
          run.child.kill('SIGTERM');
          watcher.close();
        }
      });
      cleanups.push(() => watcher.close());
      const res = await run.done;
      watcher.close();
      expect({ code: res.code, signal: res.signal }, `trial ${trial}: ${res.stderr}`).toEqual({ code: 143, signal: null });
      expect(res.stderr, `trial ${trial}`).not.toMatch(/\n\s+at /);
      expect(fs.existsSync(path.join(stateDir, 'run.lock')), `trial ${trial}: the run lock is left behind`).toBe(false);
    }
    // (The stage may have run in a trial: a signal is delivered some time after the lock appears.)
    const next = dvcl(repo.dir, ['repro'], { env });
    expect(next.code, next.stderr).toBe(0);
    expect(json(dvcl(repo.dir, ['status', '--json'])).up_to_date).toBe(true);
    expect(new Set(lines(path.join(ctl, 'ran.log')))).toEqual(new Set(['a']));
  });
});

describe('a run lock folder left empty or unreadable (issue 11, point 7)', () => {
  const rc = `version: 1
stages:
  a:
    cmd: echo a > a.txt
    outs: [a.txt]
`;
  for (const [what, fill] of [
    ['empty', () => {}],
    ['with a torn holder file', (dir: string) => fs.writeFileSync(path.join(dir, 'holder.json'), '{"pid": 12')],
  ] as const) {
    it(`${what}, just now: the next repro takes it over at once`, async () => {
      const { repo } = await project(rc);
      const lockDir = path.join(repo.dir, '.dvcl', 'run.lock');
      fs.mkdirSync(lockDir, { recursive: true });
      fill(lockDir);
      const r = dvcl(repo.dir, ['repro']);
      expect(r.code, r.stderr).toBe(0);
      expect(repo.read('a.txt')).toBe('a\n');
      expect(fs.existsSync(lockDir)).toBe(false);
      expect(fs.readdirSync(path.join(repo.dir, '.dvcl')).filter((f) => f.startsWith('run.lock')), 'nothing left aside').toEqual([]);
    });
  }
});
