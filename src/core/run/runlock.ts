import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { DvclError } from '../errors.js';
import { pidAlive } from '../util/process.js';

export interface LockHolder {
  pid: number;
  host: string;
  since: string;
  command: string;
}

export interface RunLock {
  release(): Promise<void>;
  releaseSync(): void;
}

const LOCK_DIR = 'run.lock';
const HOLDER_FILE = 'holder.json';
const UPDATE_MS = 5_000;
const FOREIGN_STALE_MS = 30_000;

type Verdict =
  | { kind: 'held'; holder: LockHolder | null }
  | { kind: 'abandoned'; holder: LockHolder | null }
  | { kind: 'gone' };

/** Never waits (`busy`); a gone holder's lock is taken over at once (pid dead; another host: unrefreshed), a live one never. */
export async function acquireRunLock(opts: { stateDir: string; command: string }): Promise<RunLock> {
  const stateDir = path.resolve(opts.stateDir);
  const lockDir = path.join(stateDir, LOCK_DIR);
  try {
    fs.mkdirSync(stateDir, { recursive: true });
  } catch (err) {
    throw new DvclError('io', `cannot create ${stateDir}: ${(err as Error).message}`);
  }
  const holder: LockHolder = {
    pid: process.pid, host: os.hostname(), since: new Date().toISOString(), command: opts.command,
  };
  const lockOpts = {
    lockfilePath: lockDir,
    realpath: false,
    fs: holderFs(lockDir, holder),
    // proper-lockfile must never judge staleness itself: it would rmdir a directory that holds our
    // info (ENOTEMPTY) and take a lock from a live local holder with an old mtime. judge() decides.
    stale: Infinity,
    update: UPDATE_MS,
    retries: 0,
    onCompromised: (err: Error) => {
      process.stderr.write(
        `dvcl: warning: lost the run lock ${lockDir} (${err.message}); another run may start alongside this one\n`);
    },
  };

  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const release = await lockfile.lock(stateDir, lockOpts);
      removeLeftAside(stateDir);
      return heldLock(stateDir, lockOpts, release);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') {
        throw new DvclError('io', `cannot take the run lock ${lockDir}: ${(err as Error).message}`);
      }
    }
    const verdict = await judge(stateDir, lockDir);
    if (verdict.kind === 'held') throw busy(verdict.holder, lockDir);
    if (verdict.kind === 'abandoned') takeOver(lockDir, verdict.holder);
  }
  // Lost the race to take over an abandoned lock to another process each time.
  throw busy(readLockHolder(stateDir), lockDir);
}

export function readLockHolder(stateDir: string): LockHolder | null {
  return readHolderAt(path.join(stateDir, LOCK_DIR));
}

function readHolderAt(lockDir: string): LockHolder | null {
  try {
    const h = JSON.parse(fs.readFileSync(path.join(lockDir, HOLDER_FILE), 'utf8')) as Partial<LockHolder>;
    if (Number.isInteger(h.pid) && h.pid! > 0 && typeof h.host === 'string'
      && typeof h.since === 'string' && typeof h.command === 'string') {
      return { pid: h.pid!, host: h.host, since: h.since, command: h.command };
    }
  } catch { /* missing, or read halfway through being written */ }
  return null;
}

// The holder file lives inside the lock directory (made aside, renamed in), so a `run.lock` without readable holder
// info is no live run's. It must be there before proper-lockfile records the mtime it watches.
function holderFs(lockDir: string, holder: LockHolder): object {
  const text = `${JSON.stringify(holder)}\n`;
  return {
    ...fs,
    mkdir(dir: string, cb: (err: Error | null) => void) {
      const aside = asideName(dir, 'new');
      try {
        fs.mkdirSync(aside);
        fs.writeFileSync(path.join(aside, HOLDER_FILE), text);
      } catch (err) {
        fs.rmSync(aside, { recursive: true, force: true });
        return cb(err as Error);
      }
      fs.rename(aside, dir, (err) => {
        if (!err) return cb(null);
        fs.rmSync(aside, { recursive: true, force: true });
        // A directory (with a holder in it) is there: that is what proper-lockfile calls EEXIST.
        const code = err.code === 'ENOTEMPTY' || err.code === 'EEXIST' ? 'EEXIST' : err.code;
        cb(Object.assign(err, { code }));
      });
    },
    rmdir(dir: string, cb: (err: Error | null) => void) {
      const aside = asideName(dir, 'old');
      fs.rename(dir, aside, (err) => {
        if (err) return cb(err);
        fs.rm(aside, { recursive: true, force: true }, () => cb(null));
      });
    },
    rmdirSync(dir: string) {
      const aside = asideName(dir, 'old');
      fs.renameSync(dir, aside);
      fs.rmSync(aside, { recursive: true, force: true });
    },
  };
}

function asideName(lockDir: string, what: 'new' | 'old' | 'stale'): string {
  return `${lockDir}.${what}-${process.pid}-${Math.random().toString(36).slice(2)}`;
}

function removeLeftAside(stateDir: string): void {
  let names: string[] = [];
  try {
    names = fs.readdirSync(stateDir);
  } catch { /* nothing to clear */ }
  for (const name of names) {
    const m = /^run\.lock\.(?:new|old|stale)-(\d+)-/.exec(name);
    if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) {
      fs.rmSync(path.join(stateDir, name), { recursive: true, force: true });
    }
  }
}

function heldLock(stateDir: string, lockOpts: { lockfilePath: string; fs: object }, release: () => Promise<void>): RunLock {
  let released = false;
  // ERELEASED/ENOTACQUIRED: compromised (already warned) or gone; the directory may be someone else's now.
  const warn = (err: unknown): void => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERELEASED' || code === 'ENOTACQUIRED') return;
    process.stderr.write(`dvcl: warning: could not release the run lock ${lockOpts.lockfilePath}: ${(err as Error).message}\n`);
  };
  return {
    async release() {
      if (released) return;
      released = true;
      await release().catch(warn);
    },
    releaseSync() {
      if (released) return;
      released = true;
      try {
        lockfile.unlockSync(stateDir, { lockfilePath: lockOpts.lockfilePath, realpath: false, fs: lockOpts.fs });
      } catch (err) {
        warn(err);
      }
    },
  };
}

async function judge(stateDir: string, lockDir: string): Promise<Verdict> {
  const holder = readHolderAt(lockDir);
  if (!holder) {
    // Never a live run's (see holderFs), unless it has just been released.
    return fs.existsSync(lockDir) ? { kind: 'abandoned', holder: null } : { kind: 'gone' };
  }
  if (holder.host === os.hostname()) {
    return { kind: pidAlive(holder.pid) ? 'held' : 'abandoned', holder };
  }
  // Another host's pids mean nothing here; its holder keeps the mtime fresh while it lives.
  const fresh = await lockfile.check(stateDir, { lockfilePath: lockDir, realpath: false, stale: FOREIGN_STALE_MS });
  return { kind: fresh ? 'held' : 'abandoned', holder };
}

/** Two may judge the same lock abandoned: the second sees the one it moved aside is not the one it judged, and puts it back. */
function takeOver(lockDir: string, judged: LockHolder | null): void {
  const aside = asideName(lockDir, 'stale');
  try {
    fs.renameSync(lockDir, aside);
  } catch {
    return; // already gone (or not ours to move): the next attempt finds out
  }
  const moved = readHolderAt(aside);
  const same = judged && moved
    ? moved.pid === judged.pid && moved.host === judged.host && moved.since === judged.since
    : !judged && !moved;
  if (!same) {
    try {
      fs.renameSync(aside, lockDir);
      return;
    } catch { /* yet another process took the lock meanwhile; the one we moved is lost */ }
  }
  fs.rmSync(aside, { recursive: true, force: true });
}

function busy(holder: LockHolder | null, lockDir: string): DvclError {
  if (!holder) {
    return new DvclError('busy', `another dvcl run holds the run lock ${lockDir} (it is just starting)`,
      { suggestions: ['wait for it to finish, then try again'] });
  }
  const command = holder.command.startsWith('dvcl') ? holder.command : `dvcl ${holder.command}`;
  const local = holder.host === os.hostname();
  return new DvclError('busy',
    `another dvcl run holds the run lock: pid ${holder.pid} on host ${holder.host}, since ${holder.since} (${command})`,
    {
      suggestions: [local
        ? `wait for it to finish, or stop it (kill ${holder.pid}); a lock left by a dead process is taken over automatically`
        : `wait for it to finish; if that run is gone, its lock is taken over once unrefreshed for ${FOREIGN_STALE_MS / 1000} s`],
    });
}
