import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { dvcl, dvclSpawn, json } from './helpers/cli.js';
import { gitRepo, type GitRepo } from './helpers/git-repo.js';

// kill -9 in the middle of a per-item stage: the journal keeps every finished item (SPEC §6).

const ITEMS = 40;
const JOBS = 2;

let repo: GitRepo | undefined;
afterEach(() => {
  repo?.cleanup();
  repo = undefined;
});

const outputs = (r: GitRepo): string[] => (r.exists('out') ? fs.readdirSync(path.join(r.dir, 'out')).sort() : []);

/** Items started since the last call (each item command logs its input when it starts). */
function takeStarted(r: GitRepo): string[] {
  if (!r.exists('runs.log')) return [];
  const lines = r.read('runs.log').split('\n').filter(Boolean);
  fs.rmSync(path.join(r.dir, 'runs.log'));
  return lines;
}

/** A per-item stage whose items log their start to runs.log, then take `seconds`. */
const slowItems = (seconds: number): string => `version: 1
stages:
  slow:
    foreach: in/*.txt
    out: out/\${stem}.out
    cmd: echo \${item} >> runs.log; sleep ${seconds}; cp \${item} \${out}
`;

describe('kill -9 during a per-item stage', () => {
  it('loses only the items in flight: the next repro runs just the unfinished ones', async () => {
    const files: Record<string, string> = { '.pipelinerc': slowItems(0.07) };
    for (let i = 0; i < ITEMS; i++) files[`in/i${String(i).padStart(2, '0')}.txt`] = `item ${i}\n`;
    const r = await gitRepo(files);
    repo = r;

    const run = dvclSpawn(r.dir, ['repro', '-j', String(JOBS)]);
    const deadline = Date.now() + 30_000;
    while (outputs(r).length < 10 && Date.now() < deadline) await sleep(10);
    expect(outputs(r).length, run.output().stderr).toBeGreaterThanOrEqual(10);
    run.child.kill('SIGKILL'); // the dvcl node process only: its item commands run on in their own process groups
    const killed = await run.done;
    expect(killed.signal).toBe('SIGKILL');

    // Let the orphaned item commands (at most JOBS, ~70 ms each) finish.
    let before: string[] = [];
    for (let stable = 0; stable < 3;) {
      await sleep(100);
      const now = outputs(r);
      stable = now.join() === before.join() ? stable + 1 : 0;
      before = now;
    }
    const startedBefore = takeStarted(r);
    expect(before.length).toBeLessThan(ITEMS);
    expect(fs.existsSync(path.join(r.dir, '.dvcl/journal.jsonl'))).toBe(true);

    // The stale run lock of the dead process does not block, and the journal is folded in.
    const again = dvcl(r.dir, ['repro', '-j', String(JOBS), '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/recovered \d+ change\(s\) of an interrupted run/);
    const rerun = takeStarted(r);
    const finishedBefore = new Set(before.map((o) => `in/${o.replace(/\.out$/, '.txt')}`));
    const notStarted = Array.from({ length: ITEMS }, (_, i) => `in/i${String(i).padStart(2, '0')}.txt`).filter((i) => !startedBefore.includes(i));
    // Every item that had not finished runs; of those that had, only the ones in flight at the kill:
    // per job slot, the item running and the one queued behind it in the slot's shell.
    for (const i of notStarted) expect(rerun).toContain(i);
    expect(rerun.filter((i) => finishedBefore.has(i)).length).toBeLessThanOrEqual(2 * JOBS);
    expect(rerun.length).toBe(new Set(rerun).size);
    expect(rerun.length).toBeLessThanOrEqual(ITEMS - finishedBefore.size + 2 * JOBS);
    expect(json(again).stages[0].items.ran).toBe(rerun.length);

    expect(outputs(r)).toHaveLength(ITEMS);
    for (let i = 0; i < ITEMS; i += 13) expect(r.read(`out/i${String(i).padStart(2, '0')}.out`)).toBe(`item ${i}\n`);
    const items = JSON.parse(r.read('.manifest.json')).stages.slow.items;
    expect(Object.values(items).filter((i: any) => i.status === 'success')).toHaveLength(ITEMS);
    expect(fs.existsSync(path.join(r.dir, '.dvcl/journal.jsonl'))).toBe(false);
    const st = dvcl(r.dir, ['status', '--check']);
    expect(st.code, st.stdout + st.stderr).toBe(0);
  });
});

describe('kill -9 of dvcl while items are queued in its item shells', () => {
  it('lets the items running finish and starts none of those queued', async () => {
    const files: Record<string, string> = { '.pipelinerc': slowItems(0.4) };
    for (let i = 0; i < 8; i++) files[`in/i${i}.txt`] = `item ${i}\n`;
    const r = (repo = await gitRepo(files));
    const run = dvclSpawn(r.dir, ['repro', '-j', '2']);
    const deadline = Date.now() + 30_000;
    while (takeStartedCount(r) < 2 && Date.now() < deadline) await sleep(10);
    await sleep(100); // both slots busy with their first item, the next one queued behind it
    run.child.kill('SIGKILL');
    await run.done;
    const atKill = takeStartedCount(r);
    await sleep(1200); // the running items end at ~0.4 s; queued ones would have started and ended by now
    expect(takeStartedCount(r)).toBe(atKill); // nothing started after the kill
    expect(atKill).toBeLessThan(8);
    expect(outputs(r)).toHaveLength(atKill); // and what had started finished
  });
});

const takeStartedCount = (r: GitRepo): number => (r.exists('runs.log') ? r.read('runs.log').split('\n').filter(Boolean).length : 0);

describe('temporary files of a writer killed mid-save', () => {
  it('are removed by the next repro or prune when their process is gone, never while it lives', async () => {
    const r = (repo = await gitRepo({ '.pipelinerc': 'version: 1\nstages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n' }));
    const dead = spawnSync('true').pid; // exited: its pid names no process (until the system reuses it)
    const left = [`pipeline.lock.tmp-${dead}-0a1b2c3d`, `.manifest.json.tmp-${dead}-99aa00ff`, `.manifest.json.bak.tmp-${dead}`];
    const live = `pipeline.lock.tmp-${process.pid}-deadbeef`; // this test's own pid: a write in progress
    const unrelated = `notes.txt.tmp-${dead}-0a1b2c3d`; // not a file dvcl writes
    for (const f of [...left, live, unrelated]) r.write(f, 'half a file');
    const res = dvcl(r.dir, ['repro']);
    expect(res.code, res.stderr).toBe(0);
    for (const f of left) expect(r.exists(f), f).toBe(false);
    expect(r.exists(live)).toBe(true);
    expect(r.exists(unrelated)).toBe(true);
    r.write(`.manifest.json.tmp-${dead}-12345678`, 'half');
    expect(dvcl(r.dir, ['prune', '--deleted']).code).toBe(0);
    expect(r.exists(`.manifest.json.tmp-${dead}-12345678`)).toBe(false);
  });
});

describe('commands left running by a dvcl that was killed', () => {
  /** Running, not a zombie waiting for its new parent to reap it. */
  const alive = (pid: number): boolean => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat[stat.lastIndexOf(')') + 2] !== 'Z';
    } catch {
      return false;
    }
  };

  it('are stopped by the next repro, with a warning, before it runs the stage again', async () => {
    const r = (repo = await gitRepo({
      '.pipelinerc': 'version: 1\nstages:\n  long:\n    cmd: echo $$ > pid.txt; sleep 30; echo done > out.txt\n    outs: [out.txt]\n',
    }));
    const run = dvclSpawn(r.dir, ['repro']);
    const deadline = Date.now() + 20_000;
    while (!r.exists('pid.txt') && Date.now() < deadline) await sleep(20);
    const pid = Number(r.read('pid.txt'));
    // dvcl notes the group right after it starts it; on a loaded machine the shell can write its pid first.
    const note = path.join(r.dir, '.dvcl/groups', String(run.child.pid));
    while (!(fs.existsSync(note) && fs.readFileSync(note, 'utf8')) && Date.now() < deadline) await sleep(20);
    run.child.kill('SIGKILL');
    await run.done;
    expect(alive(pid)).toBe(true); // the stage's shell outlived dvcl
    r.write('.pipelinerc', 'version: 1\nstages:\n  long:\n    cmd: echo done > out.txt\n    outs: [out.txt]\n');
    const next = dvcl(r.dir, ['repro']);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toMatch(new RegExp(`warning: stopped 1 command still running from dvcl \\(pid ${run.child.pid}\\), which was killed`));
    expect(alive(pid)).toBe(false);
    expect(r.read('out.txt')).toBe('done\n');
    expect(fs.readdirSync(path.join(r.dir, '.dvcl/groups'))).toEqual([]);
  });

  it('never stops a process that merely reuses a listed pid', async () => {
    const r = (repo = await gitRepo({ '.pipelinerc': 'version: 1\nstages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n' }));
    const other = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    try {
      const dead = spawnSync('true').pid;
      fs.mkdirSync(path.join(r.dir, '.dvcl/groups'), { recursive: true });
      // Listed by a dvcl that is gone, but with another start time: the pid now names someone else.
      // (and lines that are not `<pid> <start time>` at all, as a torn or edited file may hold)
      r.write(`.dvcl/groups/${dead}`, `${other.pid} 1\ngarbage\n\n-1 x y\n${other.pid}`);
      const res = dvcl(r.dir, ['repro']);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stderr).not.toMatch(/stopped/);
      expect(alive(other.pid!)).toBe(true);
      expect(r.exists(`.dvcl/groups/${dead}`)).toBe(false);
    } finally {
      other.kill('SIGKILL');
    }
  });
});
