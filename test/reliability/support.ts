import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

// Shared by the reliability tests (issue 7): seeded randomness, waiting on conditions rather than
// on the clock (the machine is shared and slow), and finding the process groups a killed dvcl
// left behind.

/** A small seeded PRNG (mulberry32): the same seed gives the same trial, on every machine. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    chance: (p) => next() < p,
  };
}

export interface Rng {
  next(): number;
  /** an integer in [lo, hi] */
  int(lo: number, hi: number): number;
  pick<T>(xs: readonly T[]): T;
  chance(p: number): boolean;
}

/** `RELIABILITY_SEED` when set (to replay a failure), else a fresh one; the test prints it. */
export function seedFromEnv(): number {
  const s = process.env.RELIABILITY_SEED;
  if (s !== undefined && s !== '') {
    const n = Number(s);
    if (!Number.isInteger(n)) throw new Error(`RELIABILITY_SEED must be an integer, not ${s}`);
    return n >>> 0;
  }
  return Math.floor(Math.random() * 2 ** 31);
}

/** `RELIABILITY_TRIALS` scales the randomized tests for longer local runs. */
export function trialsFromEnv(dflt: number): number {
  const s = process.env.RELIABILITY_TRIALS;
  const n = s ? Number(s) : dflt;
  if (!Number.isInteger(n) || n < 1) throw new Error(`RELIABILITY_TRIALS must be a positive integer, not ${s}`);
  return n;
}

/** Poll `cond` until it is truthy; on timeout throw, saying what was awaited. */
export async function waitFor<T>(cond: () => T | Promise<T>, what: string, timeoutMs = 30_000, everyMs = 20): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Running and not a zombie (an orphan killed with its group waits for init to reap it). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return !/^\d+ \(.*\) Z/s.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc (macOS): kill(0) is all there is
  }
}

export async function allGone(pids: number[], timeoutMs = 15_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = pids.filter(alive);
    if (left.length === 0 || Date.now() > deadline) return left;
    await sleep(25);
  }
}

/**
 * Pids of live processes whose command line contains `marker` (`pgrep -f`). Stage commands in
 * these tests carry a marker unique to the test process, so another test's processes never match.
 */
export function pidsWithMarker(marker: string): number[] {
  const r = spawnSync('pgrep', ['-f', marker], { encoding: 'utf8' });
  if (r.error) return procScan(marker);
  return r.stdout.split('\n').filter(Boolean).map(Number).filter((p) => p !== process.pid);
}

function procScan(marker: string): number[] {
  const pids: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(marker)) pids.push(Number(d));
    } catch { /* exited meanwhile */ }
  }
  return pids.filter((p) => p !== process.pid);
}

/**
 * Kill (SIGKILL) the process groups of every process carrying `marker`, until none is left: what a
 * `kill -9` of dvcl leaves running (each stage command leads its own group). Returns how many
 * groups were killed.
 */
export async function killMarkedGroups(marker: string, timeoutMs = 15_000): Promise<number> {
  const groups = new Set<number>();
  await waitFor(() => {
    const pids = pidsWithMarker(marker);
    for (const pid of pids) {
      groups.add(pid);
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch { /* not a group leader, or gone */ }
      }
    }
    return pids.length === 0;
  }, `processes marked ${marker} to die`, timeoutMs, 30);
  return groups.size;
}

/** Lines of a text file, or [] when it does not exist. */
export function lines(file: string): string[] {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** A scratch folder outside any repository, removed by the returned function. */
export function scratch(prefix: string): { dir: string; cleanup: () => void } {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Every file under `dir` (relative, `/`), with its content: for whole-tree comparisons. */
export function tree(dir: string, skip: (rel: string) => boolean = () => false): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (skip(r)) continue;
      if (e.isDirectory()) walk(r);
      else out[r] = e.isSymbolicLink() ? `-> ${fs.readlinkSync(path.join(dir, r))}` : fs.readFileSync(path.join(dir, r), 'latin1');
    }
  };
  walk('');
  return out;
}

/** A stack trace line, which must never reach a user's terminal without DEBUG. */
export const STACK = /\n\s+at .+[(:]\d+/;

/** One line for the test log, so a run's figures can be copied into docs/RELIABILITY.md. */
export function figure(name: string, fields: Record<string, string | number>): void {
  process.stdout.write(`reliability ${name}: ${Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
}
