import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { acquireRunLock, readLockHolder, type LockHolder } from '../src/core/run/runlock.js';
import { DvclError, EXIT } from '../src/core/errors.js';

const cleanups: Array<() => void> = [];
afterEach(() => { while (cleanups.length) cleanups.pop()!(); });

function stateDir(): string {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-lock-')));
  cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
  return path.join(root, '.dvcl');
}

/** A live node process that does nothing until killed. */
async function sleeper(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await new Promise((resolve, reject) => child.once('spawn', resolve).once('error', reject));
  cleanups.push(() => child.kill('SIGKILL'));
  return child;
}

/** Lay out a lock as another dvcl process would have: the directory with holder.json inside. */
function plantLock(dir: string, holder: Partial<LockHolder> | null, ageMs = 0): void {
  const lockDir = path.join(dir, 'run.lock');
  fs.mkdirSync(lockDir, { recursive: true });
  if (holder) {
    const full = { pid: 1, host: os.hostname(), since: '2026-01-02T03:04:05.000Z', command: 'repro', ...holder };
    fs.writeFileSync(path.join(lockDir, 'holder.json'), JSON.stringify(full));
  }
  const t = new Date(Date.now() - ageMs);
  fs.utimesSync(lockDir, t, t);
}

async function busyError(dir: string): Promise<DvclError> {
  const err = await acquireRunLock({ stateDir: dir, command: 'repro' }).then(
    (lock) => { lock.releaseSync(); throw new Error('expected the lock to be busy'); },
    (e: unknown) => e);
  expect(err).toBeInstanceOf(DvclError);
  return err as DvclError;
}

describe('run lock', () => {
  it('is taken, names its holder, and is gone after release', async () => {
    const dir = stateDir();
    const lock = await acquireRunLock({ stateDir: dir, command: 'repro' });
    expect(readLockHolder(dir)).toEqual({
      pid: process.pid, host: os.hostname(), since: expect.stringMatching(/Z$/), command: 'repro',
    });
    await lock.release();
    expect(fs.existsSync(path.join(dir, 'run.lock'))).toBe(false);
    expect(readLockHolder(dir)).toBeNull();
    await lock.release(); // idempotent

    const again = await acquireRunLock({ stateDir: dir, command: 'prune' });
    again.releaseSync();
    again.releaseSync();
    expect(fs.existsSync(path.join(dir, 'run.lock'))).toBe(false);
  });

  it('refuses a second run at once with exit 3 and the holder in the message', async () => {
    const dir = stateDir();
    const lock = await acquireRunLock({ stateDir: dir, command: 'repro' });
    const started = Date.now();
    const err = await busyError(dir);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(err.code).toBe('busy');
    expect(err.exit).toBe(EXIT.busy);
    expect(err.exitCode).toBe(3);
    expect(err.message).toMatch(new RegExp(
      `^another dvcl run holds the run lock: pid ${process.pid} on host .+, since \\d{4}-.+Z \\(dvcl repro\\)$`));
    expect(err.suggestions.join(' ')).toContain(`kill ${process.pid}`);
    await lock.release();
  });

  it('takes over at once a lock whose holder was killed', async () => {
    const dir = stateDir();
    const child = await sleeper();
    plantLock(dir, { pid: child.pid });
    expect((await busyError(dir)).message).toContain(`pid ${child.pid} `);

    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited; // reaped, so kill(pid, 0) says ESRCH rather than finding a zombie
    const started = Date.now();
    const lock = await acquireRunLock({ stateDir: dir, command: 'retry' });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(readLockHolder(dir)).toMatchObject({ pid: process.pid, command: 'retry' });
    await lock.release();
    expect(fs.readdirSync(path.dirname(dir)).join()).not.toContain('stale'); // nothing left aside
  });

  it('never steals from a live holder on this host, however old the lock', async () => {
    const dir = stateDir();
    const child = await sleeper();
    plantLock(dir, { pid: child.pid }, 24 * 3600_000);
    expect((await busyError(dir)).message).toContain(`pid ${child.pid} on host ${os.hostname()}`);
    expect(readLockHolder(dir)?.pid).toBe(child.pid);
  });

  it('judges a lock from another host by how recently it was refreshed', async () => {
    const dir = stateDir();
    plantLock(dir, { pid: process.pid, host: 'elsewhere.example' });
    const err = await busyError(dir);
    expect(err.message).toContain('on host elsewhere.example');
    expect(err.suggestions.join(' ')).toContain('30 s');

    plantLock(dir, { pid: process.pid, host: 'elsewhere.example' }, 60_000);
    const lock = await acquireRunLock({ stateDir: dir, command: 'repro' });
    expect(readLockHolder(dir)?.host).toBe(os.hostname());
    await lock.release();
  });

  // A live holder's lock directory always holds its info (it is made aside and renamed into
  // place): one without readable info was left by a killed process, however fresh (issue 11).
  it('takes over at once a lock directory without readable holder info, however fresh', async () => {
    const dir = stateDir();
    for (const holder of [null, '', '{"pid": 4', 'not json']) {
      plantLock(dir, null);
      if (holder !== null) fs.writeFileSync(path.join(dir, 'run.lock', 'holder.json'), holder);
      const lock = await acquireRunLock({ stateDir: dir, command: 'repro' });
      expect(readLockHolder(dir)?.pid, JSON.stringify(holder)).toBe(process.pid);
      await lock.release();
      expect(fs.readdirSync(dir).filter((f) => f.startsWith('run.lock')), 'nothing left aside').toEqual([]);
    }
  });

  it('releases by moving the directory away whole, and clears what killed processes left aside', async () => {
    const dir = stateDir();
    const child = await sleeper();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    fs.mkdirSync(dir, { recursive: true });
    for (const what of ['new', 'old', 'stale']) fs.mkdirSync(path.join(dir, `run.lock.${what}-${child.pid}-abc`));
    fs.mkdirSync(path.join(dir, `run.lock.new-${process.pid}-abc`)); // a live process's: left alone
    const lock = await acquireRunLock({ stateDir: dir, command: 'repro' });
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('run.lock')).sort()).toEqual(['run.lock', `run.lock.new-${process.pid}-abc`]);
    await lock.release();
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('run.lock'))).toEqual([`run.lock.new-${process.pid}-abc`]);
  });

  it('keeps its lock fresh while held, without tripping over its own holder file', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const dir = stateDir();
      const lock = await acquireRunLock({ stateDir: dir, command: 'repro' });
      const before = fs.statSync(path.join(dir, 'run.lock')).mtimeMs;
      for (let i = 0; i < 3; i++) {
        await sleep(20);
        vi.advanceTimersByTime(10_000);
        await sleep(50); // the refresh's stat and utimes are real I/O
      }
      expect(stderr).not.toHaveBeenCalled();
      expect(fs.statSync(path.join(dir, 'run.lock')).mtimeMs).not.toBe(before);
      await lock.release();
      expect(fs.existsSync(path.join(dir, 'run.lock'))).toBe(false);
    } finally {
      stderr.mockRestore();
      vi.useRealTimers();
    }
  });

  it('warns instead of crashing when its lock is removed under it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const dir = stateDir();
      const lock = await acquireRunLock({ stateDir: dir, command: 'repro' });
      fs.rmSync(path.join(dir, 'run.lock'), { recursive: true });
      vi.advanceTimersByTime(10_000); // proper-lockfile's next mtime refresh finds the lock gone
      for (let i = 0; i < 100 && stderr.mock.calls.length === 0; i++) await sleep(10);
      expect(String(stderr.mock.calls[0]?.[0])).toContain('warning: lost the run lock');
      await lock.release(); // does not throw, does not warn again
      expect(stderr).toHaveBeenCalledTimes(1);
    } finally {
      stderr.mockRestore();
      vi.useRealTimers();
    }
  });
});
