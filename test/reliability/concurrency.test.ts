import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dvcl, dvclSpawn, json } from '../helpers/cli.js';
import { gitRepo, type GitRepo } from '../helpers/git-repo.js';
import { killMarkedGroups, lines, scratch, STACK, waitFor } from './support.js';

// Issue 7, concurrency: one run at a time per project (exit 3 for the others, naming the holder),
// readers (status, dag) that need no lock and never see a torn file, and a run lock that is taken
// over from a dead holder at once but never from a live one.

const MARKER = `dvcl-reli-conc-${process.pid}`;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  await killMarkedGroups(MARKER).catch(() => 0);
  while (cleanups.length) cleanups.pop()!();
});

async function project(files: Record<string, string>): Promise<{ repo: GitRepo; ctl: string; env: Record<string, string> }> {
  const repo = await gitRepo({ '.gitignore': '.dvcl/\n', ...files });
  const ctl = scratch('dvcl-reli-conc-');
  cleanups.push(repo.cleanup, ctl.cleanup);
  return { repo, ctl: ctl.dir, env: { RELI_CTL: ctl.dir } };
}

/**
 * A per-item stage whose items take `itemSleep` s each, the last (`in/z.txt`) waiting for a `go`
 * file in the control folder, and `extra` independent ordinary stages that each rewrite
 * pipeline.lock when they finish.
 */
function files(items: number, itemSleep: string, extra = 0): Record<string, string> {
  let rc = `version: 1
stages:
  copy:
    foreach: in/*.txt
    out: out/\${stem}.out
    cmd: ': ${MARKER}; if [ \${stem} = z ]; then while [ ! -e "$RELI_CTL/go" ]; do sleep 0.05; done; fi; sleep ${itemSleep}; cp \${item} \${out} && echo \${item} >> "$RELI_CTL/done.log"'
`;
  for (let i = 0; i < extra; i++) rc += `  s${i}:\n    cmd: ': ${MARKER}; sleep 0.2; echo ${i} > s${i}.txt'\n    outs: [s${i}.txt]\n`;
  const f: Record<string, string> = { '.pipelinerc': rc };
  for (let i = 0; i < items; i++) f[`in/i${String(i).padStart(3, '0')}.txt`] = `${i}\n`;
  f['in/z.txt'] = 'z\n';
  return f;
}

describe('one run at a time', () => {
  it('repro, retry and prune during a run exit 3 at once naming the holder; a dry run and the readers go ahead', async () => {
    const { repo, ctl, env } = await project(files(6, '0'));
    const run = dvclSpawn(repo.dir, ['repro', '-j', '2'], { env });
    cleanups.push(() => run.child.kill('SIGKILL'));
    await waitFor(() => lines(path.join(ctl, 'done.log')).length >= 6, 'the items before the gate');

    for (const args of [['repro'], ['repro', 'copy', '-f'], ['retry', '--only-failed'], ['prune', '--deleted']]) {
      const r = dvcl(repo.dir, args, { env });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(3);
      expect(r.stderr).toMatch(new RegExp(`another dvcl run holds the run lock: pid ${run.child.pid}\\b`));
      expect(r.stderr).toMatch(/hint: /);
      expect(r.stderr).not.toMatch(STACK);
    }
    const busyJson = dvcl(repo.dir, ['repro', '--json'], { env });
    expect(busyJson.code).toBe(3);
    expect(json(busyJson).error).toMatchObject({ code: 'busy' });
    expect(dvcl(repo.dir, ['repro', '--dry-run'], { env }).code).toBe(0);
    expect(dvcl(repo.dir, ['status'], { env }).code).toBe(0);
    expect(dvcl(repo.dir, ['dag'], { env }).code).toBe(0);
    expect(lines(path.join(ctl, 'done.log'))).toHaveLength(6); // none of them ran anything

    fs.writeFileSync(path.join(ctl, 'go'), '');
    const res = await run.done;
    expect(res.code, res.stderr).toBe(0);
    expect(lines(path.join(ctl, 'done.log')).sort()).toEqual([...Array.from({ length: 6 }, (_, i) => `in/i00${i}.txt`), 'in/z.txt']);
    expect(dvcl(repo.dir, ['status', '--check']).code).toBe(0);
  });
});

describe('readers during a run', () => {
  it('status and dag never need the lock and never see a torn manifest, journal or lock', { timeout: 180_000 }, async () => {
    const ITEMS = 120;
    const EXTRA = 12;
    const { repo, ctl, env } = await project(files(ITEMS, '0.03', EXTRA));
    const run = dvclSpawn(repo.dir, ['repro', '-j', '3'], { env });
    cleanups.push(() => run.child.kill('SIGKILL'));
    await waitFor(() => lines(path.join(ctl, 'done.log')).length >= 1, 'the first item');

    const seen: number[] = [];
    let lockedStages = 0;
    let calls = 0;
    // Until every item but the gated one is done (and at least a few calls), read as fast as we can.
    while (calls < 6 || (lines(path.join(ctl, 'done.log')).length < ITEMS && calls < 60)) {
      calls++;
      const st = dvcl(repo.dir, ['status', '--json'], { env });
      expect(st.code, `status call ${calls}: ${st.stderr}`).toBe(0);
      expect(st.stderr, `status call ${calls}`).not.toMatch(/corrupt|restored|unreadable|warning/i);
      const report = json(st);
      const copy = report.stages.find((s: { name: string }) => s.name === 'copy');
      expect(copy.items.total).toBe(ITEMS + 1);
      // Recorded items only ever accumulate: a torn read would lose some or fail outright.
      expect(copy.items.success).toBeGreaterThanOrEqual(seen.at(-1) ?? 0);
      seen.push(copy.items.success);
      const upToDate = report.stages.filter((s: { name: string; state: string }) => s.name !== 'copy' && s.state === 'up_to_date').length;
      expect(upToDate).toBeGreaterThanOrEqual(lockedStages);
      lockedStages = upToDate;
      if (calls % 3 === 0) {
        const dag = dvcl(repo.dir, ['dag', '--json'], { env });
        expect(dag.code, dag.stderr).toBe(0);
        json(dag);
      }
    }
    expect(run.child.exitCode, 'the run is still going (held by its last item)').toBeNull();
    fs.writeFileSync(path.join(ctl, 'go'), '');
    const res = await run.done;
    expect(res.code, res.stderr).toBe(0);
    const final = json(dvcl(repo.dir, ['status', '--json'], { env }));
    expect(final.up_to_date).toBe(true);
    expect(final.stages.find((s: { name: string }) => s.name === 'copy').items.success).toBe(ITEMS + 1);
    // The readers saw the run progress, not just its start or end.
    expect(new Set(seen).size, `success counts seen: ${seen.join(',')}`).toBeGreaterThan(1);
    expect(lines(path.join(ctl, 'done.log'))).toHaveLength(ITEMS + 1);
  });
});

describe('a run lock left behind', () => {
  const rc = `version: 1
stages:
  a:
    cmd: echo a > a.txt
    outs: [a.txt]
`;
  const lockDir = (repo: GitRepo) => path.join(repo.dir, '.dvcl', 'run.lock');
  const plantLock = (repo: GitRepo, pid: number, ageMs: number): string => {
    fs.mkdirSync(lockDir(repo), { recursive: true });
    const since = new Date(Date.now() - ageMs).toISOString();
    const holder = `${JSON.stringify({ pid, host: os.hostname(), since, command: 'dvcl repro' })}\n`;
    fs.writeFileSync(path.join(lockDir(repo), 'holder.json'), holder);
    const t = new Date(Date.now() - ageMs);
    fs.utimesSync(lockDir(repo), t, t);
    return holder;
  };

  it('by a dead process on this host is taken over at once, however fresh', async () => {
    const { repo } = await project({ '.pipelinerc': rc });
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    plantLock(repo, Number(dead.stdout), 0);
    const r = dvcl(repo.dir, ['repro']);
    expect(r.code, r.stderr).toBe(0);
    expect(repo.read('a.txt')).toBe('a\n');
    expect(fs.existsSync(lockDir(repo))).toBe(false);
  });

  it('by a live process on this host is never taken, however old', async () => {
    const { repo } = await project({ '.pipelinerc': rc, 'a.txt': 'mine\n' });
    const holderProc = spawn('sleep', ['60'], { stdio: 'ignore' });
    cleanups.push(() => holderProc.kill('SIGKILL'));
    const holder = plantLock(repo, holderProc.pid!, 3 * 24 * 3600_000);
    for (const args of [['repro'], ['repro', '-f'], ['prune', '--deleted']]) {
      const r = dvcl(repo.dir, args);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain(`pid ${holderProc.pid} on host ${os.hostname()}`);
    }
    expect(fs.readFileSync(path.join(lockDir(repo), 'holder.json'), 'utf8')).toBe(holder);
    expect(repo.read('a.txt')).toBe('mine\n'); // nothing ran, no out was removed

    holderProc.kill('SIGKILL');
    await waitFor(() => holderProc.exitCode !== null || holderProc.signalCode !== null, 'the holder to die');
    const r = dvcl(repo.dir, ['repro']);
    expect(r.code, r.stderr).toBe(0);
    expect(repo.read('a.txt')).toBe('a\n');
  });
});
