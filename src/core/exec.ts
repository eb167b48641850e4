import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

export interface ExecResult { code: number | null; signal: NodeJS.Signals | null; tail: string; durationMs: number; spawnError?: string }

const TAIL_BYTES = 2000;
const TAIL_LINES = 10;

/** Every child process group dvcl started and has not yet reaped: what a signal handler kills. */
const running = new Set<ChildProcess>();

/**
 * Run one shell command in its own process group (so a Ctrl-C or kill reaches the whole tree it
 * starts), feeding output lines to `onLine` and raw bytes to `logFd`, and keeping the last lines of
 * stderr for the failure reason.
 */
export function runShell(opts: {
  shell: string; cmd: string; cwd: string; env: NodeJS.ProcessEnv;
  onLine?: (stream: 'stdout' | 'stderr', line: string) => void; logFd?: number;
}): Promise<ExecResult> {
  const start = Date.now();
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(opts.shell, ['-c', opts.cmd], { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      resolve({ code: null, signal: null, tail: '', durationMs: 0, spawnError: (e as Error).message });
      return;
    }
    running.add(child);
    let tail = '';
    const pending = { stdout: '', stderr: '' };
    const feed = (stream: 'stdout' | 'stderr') => (buf: Buffer) => {
      if (opts.logFd !== undefined) fs.writeSync(opts.logFd, buf);
      const text = buf.toString('utf8');
      if (stream === 'stderr') tail = (tail + text).slice(-TAIL_BYTES * 2);
      if (opts.onLine) {
        const parts = (pending[stream] + text).split('\n');
        pending[stream] = parts.pop()!;
        for (const l of parts) opts.onLine(stream, l);
      }
    };
    child.stdout!.on('data', feed('stdout'));
    child.stderr!.on('data', feed('stderr'));
    let spawnError: string | undefined;
    child.on('error', (e) => { spawnError = e.message; });
    child.on('close', (code, signal) => {
      running.delete(child);
      if (opts.onLine) for (const s of ['stdout', 'stderr'] as const) if (pending[s]) opts.onLine(s, pending[s]);
      resolve({ code, signal, tail: lastLines(tail), durationMs: Date.now() - start, spawnError });
    });
  });
}

function lastLines(text: string): string {
  const lines = text.replace(/\s+$/, '').split('\n');
  return lines.slice(-TAIL_LINES).join('\n').slice(-TAIL_BYTES);
}

/** "exit code 1: <last lines of stderr>" — the reason recorded for a failed stage or item. */
export function failureReason(r: ExecResult): string {
  const what = r.spawnError ? `could not start: ${r.spawnError}` : r.signal ? `killed by ${r.signal}` : `exit code ${r.code}`;
  return r.tail ? `${what}: ${r.tail}` : what;
}

/** Signal every running process group. */
export function killAll(signal: NodeJS.Signals): number {
  for (const c of running) {
    try {
      process.kill(-c.pid!, signal);
    } catch { /* already gone */ }
  }
  return running.size;
}

export function runningCount(): number {
  return running.size;
}
