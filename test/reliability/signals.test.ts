import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { dvcl, dvclSpawn } from '../helpers/cli.js';
import { gitRepo, type GitRepo } from '../helpers/git-repo.js';
import { alive, allGone, killMarkedGroups, lines, scratch, waitFor } from './support.js';

// Issue 7, signals: SIGINT (exit 130), SIGTERM (exit 143) and SIGHUP (exit 129) stop every process
// group dvcl started, keep what finished, and release the run lock; a second SIGINT forces the
// kill. The basic case (one ordinary stage, one child) is in test/signals.e2e.test.ts; these add
// parallel stages, whole process trees, per-item stages and commands that ignore SIGTERM.

const MARKER = `dvcl-reli-sig-${process.pid}`;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  await killMarkedGroups(MARKER).catch(() => 0); // only after a failed assertion is anything left
  while (cleanups.length) cleanups.pop()!();
});
afterAll(async () => {
  await killMarkedGroups(MARKER).catch(() => 0);
});

async function project(files: Record<string, string>): Promise<{ repo: GitRepo; ctl: string; env: Record<string, string> }> {
  const repo = await gitRepo({ '.gitignore': '.dvcl/\n', ...files });
  const ctl = scratch('dvcl-reli-sig-');
  cleanups.push(repo.cleanup, ctl.cleanup);
  return { repo, ctl: ctl.dir, env: { RELI_CTL: ctl.dir } };
}

const pidsIn = (file: string): number[] => lines(file).map(Number).filter((p) => p > 1);

/**
 * A command that starts a small tree of `sleep 30` (a background child, and a grandchild under a
 * nested shell), records every pid, then waits; `trapTerm` makes the whole tree ignore SIGTERM.
 */
function holdCmd(name: string, trapTerm = false): string {
  return `: ${MARKER}; ${trapTerm ? "trap '' TERM; " : ''}echo $$ >> "$RELI_CTL/pids"; sleep 30 & echo $! >> "$RELI_CTL/pids"; `
    + `sh -c 'sleep 30 & echo $! >> "$RELI_CTL/pids"; wait' & echo $! >> "$RELI_CTL/pids"; echo ${name} >> "$RELI_CTL/started"; wait`;
}

/** Pids of the trees of `count` hold commands, once they have all started. */
async function heldPids(ctl: string, count: number): Promise<number[]> {
  await waitFor(() => lines(path.join(ctl, 'started')).length >= count, `${count} hold commands to start`);
  await waitFor(() => pidsIn(path.join(ctl, 'pids')).length >= count * 4, 'their pids');
  return pidsIn(path.join(ctl, 'pids'));
}

const exitFor = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

describe('a signal during ordinary stages running in parallel', () => {
  // SIGHUP: the terminal closed. The stage commands lead their own process groups, so only dvcl can stop them.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    it(`${sig}: every process tree of every running stage is gone, finished stages are kept, exit ${exitFor[sig]}`, async () => {
      const { repo, ctl, env } = await project({
        '.pipelinerc': `version: 1
stages:
  quick:
    cmd: echo q > quick.txt
    outs: [quick.txt]
  hold1:
    cmd: ${JSON.stringify(holdCmd('hold1'))}
    deps: [quick.txt]
    outs: [h1.txt]
  hold2:
    cmd: ${JSON.stringify(holdCmd('hold2'))}
    deps: [quick.txt]
    outs: [h2.txt]
`,
      });
      const run = dvclSpawn(repo.dir, ['repro', '-j', '3'], { env });
      cleanups.push(() => run.child.kill('SIGKILL'));
      const pids = await heldPids(ctl, 2);
      run.child.kill(sig);
      const res = await run.done;
      expect(res.code, res.stderr).toBe(exitFor[sig]);
      expect(await allGone(pids), 'left running').toEqual([]);
      expect(res.stderr).not.toMatch(/\n\s+at /);
      expect(fs.existsSync(path.join(repo.dir, '.dvcl/run.lock'))).toBe(false);
      expect(Object.keys(parseYaml(repo.read('pipeline.lock')).stages)).toEqual(['quick']);
      const m = JSON.parse(repo.read('.manifest.json'));
      expect(m.stages.quick.status).toBe('success');
      expect(m.stages.hold1?.status).not.toBe('success');

      // The lock is free, and only the interrupted stages run again.
      repo.write('.pipelinerc', repo.read('.pipelinerc').replace(/cmd: ".*hold1.*"/, 'cmd: echo 1 > h1.txt').replace(/cmd: ".*hold2.*"/, 'cmd: echo 2 > h2.txt'));
      const next = dvcl(repo.dir, ['repro', '--json'], { env });
      expect(next.code, next.stderr).toBe(0);
      expect(JSON.parse(next.stdout).stages.map((s: { name: string; result: string }) => `${s.name}:${s.result}`))
        .toEqual(['quick:skipped', 'hold1:ran', 'hold2:ran']);
    });
  }
});

describe('a signal during a per-item stage', () => {
  const QUICK = 10;
  const SLOW = 4;
  const files = (): Record<string, string> => {
    const f: Record<string, string> = {
      // Items named s* hold (a tree of sleeps) while the control folder has a `hold` file.
      '.pipelinerc': `version: 1
stages:
  copy:
    foreach: in/*.txt
    out: out/\${stem}.out
    cmd: ': ${MARKER}; case \${name} in s*) if [ -e "$RELI_CTL/hold" ]; then ${holdCmd('${name}').replace(/'/g, "''").replace(/^: \S+; /, '')}; fi;; esac; cp \${item} \${out} && echo \${item} >> "$RELI_CTL/done.log"'
`,
    };
    for (let i = 0; i < QUICK; i++) f[`in/a${i}.txt`] = `a${i}\n`;
    for (let i = 0; i < SLOW; i++) f[`in/s${i}.txt`] = `s${i}\n`;
    return f;
  };

  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    it(`${sig}: items in flight are stopped with their trees, finished items are saved, the run lock is released, exit ${exitFor[sig]}`, async () => {
      const { repo, ctl, env } = await project(files());
      fs.writeFileSync(path.join(ctl, 'hold'), '');
      const run = dvclSpawn(repo.dir, ['repro', '-j', '2'], { env });
      cleanups.push(() => run.child.kill('SIGKILL'));
      const pids = await heldPids(ctl, 2);
      expect(lines(path.join(ctl, 'done.log'))).toHaveLength(QUICK);
      run.child.kill(sig);
      const res = await run.done;
      expect(res.code, res.stderr).toBe(exitFor[sig]);
      expect(await allGone(pids), 'left running').toEqual([]);
      expect(fs.existsSync(path.join(repo.dir, '.dvcl/run.lock'))).toBe(false);
      // Saved, not merely journaled: the manifest itself holds the finished items.
      expect(fs.existsSync(path.join(repo.dir, '.dvcl/journal.jsonl'))).toBe(false);
      const items = JSON.parse(repo.read('.manifest.json')).stages.copy.items;
      expect(Object.keys(items).sort()).toEqual(Array.from({ length: QUICK }, (_, i) => `in/a${i}.txt`));
      expect(Object.values(items).every((i) => (i as { status: string }).status === 'success')).toBe(true);
      expect(repo.exists('pipeline.lock') ? parseYaml(repo.read('pipeline.lock')).stages?.copy : undefined).toBeUndefined();

      fs.rmSync(path.join(ctl, 'hold'));
      fs.rmSync(path.join(ctl, 'done.log'));
      const next = dvcl(repo.dir, ['repro'], { env });
      expect(next.code, next.stderr).toBe(0);
      expect(lines(path.join(ctl, 'done.log')).sort()).toEqual(Array.from({ length: SLOW }, (_, i) => `in/s${i}.txt`));
      expect(dvcl(repo.dir, ['status', '--check']).code).toBe(0);
    });
  }
});

describe('commands that ignore SIGTERM', () => {
  const rc = `version: 1
stages:
  stubborn:
    cmd: ${JSON.stringify(holdCmd('stubborn', true))}
    outs: [s.txt]
`;

  it('a second SIGINT kills them at once: no orphans, exit 130', async () => {
    const { repo, ctl, env } = await project({ '.pipelinerc': rc });
    const run = dvclSpawn(repo.dir, ['repro'], { env });
    cleanups.push(() => run.child.kill('SIGKILL'));
    const pids = await heldPids(ctl, 1);
    run.child.kill('SIGINT');
    await waitFor(() => /again to force/.test(run.output().stderr), 'the first SIGINT to be acknowledged');
    await sleep(100);
    expect(pids.filter(alive), 'SIGTERM is ignored').toEqual(pids);
    run.child.kill('SIGINT');
    const res = await run.done;
    expect(res.code, res.stderr).toBe(130);
    expect(await allGone(pids), 'left running').toEqual([]);
    expect(fs.existsSync(path.join(repo.dir, '.dvcl/run.lock'))).toBe(false);
  });

  it('after one SIGINT they are killed once the grace period ends: no orphans, exit 130', async () => {
    const { repo, ctl, env } = await project({ '.pipelinerc': rc });
    const run = dvclSpawn(repo.dir, ['repro'], { env });
    cleanups.push(() => run.child.kill('SIGKILL'));
    const pids = await heldPids(ctl, 1);
    run.child.kill('SIGINT');
    const res = await run.done;
    expect(res.code, res.stderr).toBe(130);
    expect(await allGone(pids), 'left running').toEqual([]);
    expect(fs.existsSync(path.join(repo.dir, '.dvcl/run.lock'))).toBe(false);
  });
});
