import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Launchers } from './launcher.js';
import type { ProcessGroups } from './process-groups.js';

export interface ExecResult { code: number | null; signal: NodeJS.Signals | null; tail: string; durationMs: number; spawnError?: string }

const TAIL_BYTES = 2000;
const TAIL_LINES = 10;

export interface ShellCommand {
  shell: string; cmd: string; cwd: string; env: NodeJS.ProcessEnv;
  onLine?: (stream: 'stdout' | 'stderr', line: string) => void; logFd?: number;
  groups: ProcessGroups;
  /** Start it through a resident shell (launcher.ts) where that works; else Node starts it. */
  launchers?: Launchers;
}

/** In its own process group, so a signal reaches the whole tree; a simple command starts without the shell, as make does. */
export async function runShell(opts: ShellCommand): Promise<ExecResult> {
  const argv = isPlainSh(opts.shell) ? directArgv(opts.cmd) : null;
  if (opts.launchers) {
    const start = Date.now();
    const out = collector(opts);
    const r = await opts.launchers.run({ shell: opts.shell, cmd: opts.cmd, direct: argv, cwd: opts.cwd, env: opts.env, groups: opts.groups, onData: out.feed });
    if (r) return { code: r.code, signal: r.signal, tail: out.end(), durationMs: Date.now() - start, ...(r.error ? { spawnError: r.error } : {}) };
  }
  if (argv) {
    const before = opts.groups.kills;
    const r = await spawnOnce(argv[0], argv.slice(1), opts);
    if (!(r.spawnCode && RETRY_IN_SHELL.has(r.spawnCode) && opts.groups.kills === before)) return r;
  }
  return spawnOnce(opts.shell, ['-c', opts.cmd], opts);
}

const RETRY_IN_SHELL = new Set(['ENOENT', 'EACCES', 'ENOEXEC', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG']);

/** A command's output as it comes: to the log, line by line to `onLine`, and its stderr's last lines kept. */
function collector(opts: ShellCommand): { feed: (stream: 'stdout' | 'stderr', buf: Buffer) => void; end: () => string } {
  let tail = '';
  const pending = { stdout: '', stderr: '' };
  return {
    feed: (stream, buf) => {
      if (opts.logFd !== undefined) fs.writeSync(opts.logFd, buf);
      const text = buf.toString('utf8');
      if (stream === 'stderr') tail = (tail + text).slice(-TAIL_BYTES * 2);
      if (opts.onLine) {
        const parts = (pending[stream] + text).split('\n');
        pending[stream] = parts.pop()!;
        for (const l of parts) opts.onLine(stream, l);
      }
    },
    end: () => {
      if (opts.onLine) for (const s of ['stdout', 'stderr'] as const) if (pending[s]) opts.onLine(s, pending[s]);
      return lastLines(tail);
    },
  };
}

function spawnOnce(file: string, args: string[], opts: ShellCommand): Promise<ExecResult & { spawnCode?: string }> {
  const start = Date.now();
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(file, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      resolve({ code: null, signal: null, tail: '', durationMs: 0, spawnError: (e as Error).message, spawnCode: (e as NodeJS.ErrnoException).code });
      return;
    }
    const untrack = opts.groups.add(child);
    const out = collector(opts);
    child.stdout!.on('data', (b: Buffer) => out.feed('stdout', b));
    child.stderr!.on('data', (b: Buffer) => out.feed('stderr', b));
    let spawnError: string | undefined;
    let spawnCode: string | undefined;
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawnError = e.message;
      spawnCode = e.code;
    });
    child.on('close', (code, signal) => {
      untrack();
      resolve({ code, signal, tail: out.end(), durationMs: Date.now() - start, spawnError, spawnCode });
    });
  });
}

/** Direct starts only stand in for a POSIX sh: another shell may do more (bash reads $BASH_ENV). */
function isPlainSh(shell: string): boolean {
  return shell === '/bin/sh' || shell === '/usr/bin/sh' || shell === 'sh';
}

// GNU make's list of characters that need a shell (job.c, sh_chars), plus backslash and CR.
const SHELL_CHARS = /[#;"*?[\]&|<>(){}$`^~!\\\n\r%]/;
// Reserved words and dash's builtins (make's sh_cmds, extended): a builtin may differ from the
// program of the same name (echo, test, kill), and some change the shell itself (cd, exec).
const SHELL_WORDS = new Set([
  '!', '{', '}', 'case', 'do', 'done', 'elif', 'else', 'esac', 'fi', 'for', 'if', 'in', 'then', 'until', 'while',
  '.', ':', '[', 'alias', 'bg', 'break', 'cd', 'chdir', 'command', 'continue', 'echo', 'eval', 'exec', 'exit',
  'export', 'false', 'fc', 'fg', 'getopts', 'hash', 'jobs', 'kill', 'local', 'printf', 'pwd', 'read', 'readonly',
  'return', 'set', 'shift', 'test', 'times', 'trap', 'true', 'type', 'ulimit', 'umask', 'unalias', 'unset', 'wait',
]);

export function directArgv(cmd: string): string[] | null {
  const words: string[] = [];
  let i = 0;
  while (i < cmd.length) {
    const c = cmd[i];
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    let word = '';
    while (i < cmd.length && cmd[i] !== ' ' && cmd[i] !== '\t') {
      if (cmd[i] === "'") {
        const end = cmd.indexOf("'", i + 1);
        if (end < 0) return null;
        word += cmd.slice(i + 1, end);
        i = end + 1;
      } else if (SHELL_CHARS.test(cmd[i])) {
        return null;
      } else {
        word += cmd[i++];
      }
    }
    words.push(word);
  }
  if (words.length === 0 || SHELL_WORDS.has(words[0]) || words[0].includes('=')) return null;
  return words;
}

/** A multi-line `cmd: |` runs with `set -e`, as a `cmd` list does and as GitHub Actions and GitLab CI do. */
export function scriptOf(cmd: string): string {
  return cmd.trimEnd().includes('\n') ? `set -e\n${cmd}` : cmd;
}

export function wdirProblem(root: string, wdir: string): string | null {
  if (wdir === '.') return null;
  const st = fs.statSync(path.resolve(root, wdir), { throwIfNoEntry: false });
  if (!st) return `wdir ${wdir} does not exist`;
  return st.isDirectory() ? null : `wdir ${wdir} is not a directory`;
}

export function lastLines(text: string): string {
  const lines = text.replace(/\s+$/, '').split('\n');
  return lines.slice(-TAIL_LINES).join('\n').slice(-TAIL_BYTES);
}

export function failureReason(r: ExecResult): string {
  const what = r.spawnError ? `could not start: ${r.spawnError}` : r.signal ? `killed by ${r.signal}` : `exit code ${r.code}`;
  return r.tail ? `${what}: ${r.tail}` : what;
}

