import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { lastLines, type ExecResult } from './exec.js';
import type { ProcessGroups } from './process-groups.js';
import { pidAlive } from '../util/process.js';
import { shellQuote } from '../template.js';

// A resident shell per job slot runs a per-item stage's commands: Node 20 forks all of dvcl per child.
// Each item runs in a subshell (a `cd` or `exit` does not leak) and appends `<status> <o><e>` to `<base>.res`, which
// dvcl polls (a pipe's wake-up per item slowed the shells). While `<base>.stop` exists, items sent before it answer
// `skip`. `kill -0 $PPID` before each item: after a `kill -9` of dvcl no queued item starts. A signal death shows as 128+N.
const DRIVER = `__dvcl_b=$1; set --
__dvcl_r() {
  if [ -e "$__dvcl_b.stop" ]; then echo skip; else __dvcl_f "$@"; fi
}
__dvcl_f() {
  kill -0 "$PPID" || exit 0
  (__dvcl_x=$2; set --; eval "$__dvcl_x") </dev/null >"$__dvcl_b.$1.out" 2>"$__dvcl_b.$1.err"
  __dvcl_c=$?; __dvcl_s=
  [ -s "$__dvcl_b.$1.out" ] && __dvcl_s=o
  [ -s "$__dvcl_b.$1.err" ] && __dvcl_s="\${__dvcl_s}e"
  echo "$__dvcl_c $__dvcl_s"
}
`;

const POLL_MS = 10;
const MAX_POLL_MS = 250;
const QUEUE_MS = 25;
const MAX_QUEUE = 32;

/** Items to keep queued for QUEUE_MS of work (at least 2); also what a `kill -9` can lose per slot. */
export function queueFor(itemMs: number): number {
  return Math.min(MAX_QUEUE, Math.max(2, Math.ceil(QUEUE_MS / Math.max(itemMs, 0.05)) + 1));
}

export function shellId(stage: string, slot: number): string {
  return `${process.pid}-${stage}-${slot}`;
}

/** Files of dead dvcl processes (a `kill -9` skips close()), once leftover-groups.ts stopped what they left running. */
export function removeLeftoverShellFiles(tmpDir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(tmpDir);
  } catch {
    return;
  }
  const dead = new Map<number, boolean>();
  for (const name of names) {
    const m = /^(\d+)-/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (!dead.has(pid)) dead.set(pid, pid !== process.pid && !pidAlive(pid));
    if (dead.get(pid)) fs.rmSync(path.join(tmpDir, name), { force: true });
  }
}

export interface ItemResult extends ExecResult {
  stdout: string;
  stderr: string;
  /** The shell died before it started this item: nothing ran, it can be sent again. */
  notStarted?: boolean;
}

interface Waiting { k: number; cmd: string; sentAt: number; givenBack: boolean; resolve: (r: ItemResult) => void }

export class ItemShell {
  private readonly child: ChildProcess;
  private readonly base: string;
  private readonly resFd: number;
  private readonly waiting: Waiting[] = [];
  private readonly freeK: number[] = Array.from({ length: MAX_QUEUE }, (_, i) => MAX_QUEUE - 1 - i);
  private readonly buf = Buffer.alloc(64 * 1024);
  private pos = 0;
  private partial = '';
  private timer: NodeJS.Timeout | null = null;
  private busyMs = 0;
  private answered = 0;
  private lastPoll = 0;
  private lastAnswer = 0;
  private corked = false;
  private closed = false;
  private usedK = 0;
  stopped = false;
  dead = false;

  constructor(opts: { shell: string; cwd: string; env: NodeJS.ProcessEnv; tmpDir: string; id: string; groups: ProcessGroups }) {
    fs.mkdirSync(opts.tmpDir, { recursive: true });
    this.base = path.join(opts.tmpDir, opts.id);
    // A stop file left by an earlier dvcl that had this pid (after a crash) would skip every item.
    fs.rmSync(`${this.base}.stop`, { force: true });
    const res = `${this.base}.res`;
    const wfd = fs.openSync(res, 'w');
    this.resFd = fs.openSync(res, 'r');
    try {
      this.child = spawn(opts.shell, ['-s', this.base], {
        cwd: opts.cwd, env: opts.env, detached: true, stdio: ['pipe', wfd, 'ignore'],
      });
    } finally {
      fs.closeSync(wfd);
    }
    const untrack = opts.groups.add(this.child);
    this.child.stdin!.on('error', () => { /* the shell died: handled on exit */ });
    this.child.stdin!.write(DRIVER);
    const died = (_code?: number | null, signal?: NodeJS.Signals | null) => {
      if (this.dead) return;
      this.dead = true;
      untrack();
      if (this.closed) {
        // The stop file had to stay until the shell had skipped the items given back.
        if (this.stopped) fs.rmSync(`${this.base}.stop`, { force: true });
      } else {
        this.poll(); // what it answered before it ended
      }
      // The oldest unanswered item was running: it fails, killed by its shell's signal. Those
      // behind it never started and say so, to be run again.
      this.waiting.splice(0).forEach((w, i) => {
        if (w.givenBack) return;
        if (i > 0) w.resolve({ ...this.result(w, null, ''), notStarted: true });
        else if (signal) w.resolve({ ...this.result(w, null, 'oe'), signal, spawnError: undefined });
        else w.resolve(this.result(w, null, 'oe'));
      });
      this.stopTimer();
    };
    this.child.on('error', () => died());
    this.child.on('exit', died);
  }

  capacity(): number {
    return this.answered < 2 ? 2 : queueFor(this.busyMs / this.answered);
  }

  get queued(): number {
    return this.waiting.length;
  }

  run(cmd: string): Promise<ItemResult> {
    const now = Date.now();
    if (this.freeK.length === 0) throw new Error(`an item shell takes at most ${MAX_QUEUE} items at a time`);
    if (this.dead) return Promise.resolve(this.result({ k: -1, cmd, sentAt: now, givenBack: false, resolve: () => {} }, null, ''));
    if (this.waiting.length === 0) {
      this.lastPoll = now; // idle time is not item time
      this.lastAnswer = now;
    }
    return new Promise((resolve) => {
      const k = this.freeK.pop()!;
      this.usedK = Math.max(this.usedK, k + 1);
      this.send({ k, cmd, sentAt: now, givenBack: false, resolve });
    });
  }

  private send(w: Waiting): void {
    this.waiting.push(w);
    const stdin = this.child.stdin!;
    if (!this.corked) {
      this.corked = true;
      stdin.cork();
      process.nextTick(() => {
        this.corked = false;
        stdin.uncork();
      });
    }
    stdin.write(`${this.stopped ? '__dvcl_f' : '__dvcl_r'} ${w.k} ${shellQuote(w.cmd)}\n`);
    this.timer ??= setTimeout(() => this.tick(), POLL_MS);
  }

  giveBack(): number {
    if (this.dead || this.stopped || this.waiting.length < 2) return 0;
    fs.writeFileSync(`${this.base}.stop`, '');
    this.stopped = true;
    // The shell checks the file before each item, so of those unanswered only the oldest can have started.
    this.poll();
    const back = this.waiting.slice(1);
    for (const w of back) w.givenBack = true;
    if (back.length === 0) this.unstop();
    return back.length;
  }

  private unstop(): void {
    fs.rmSync(`${this.base}.stop`, { force: true });
    this.stopped = false;
  }

  private poll(): void {
    const now = Date.now();
    if (this.waiting.length > 0) this.busyMs += now - this.lastPoll;
    this.lastPoll = now;
    let text = '';
    for (let n; (n = fs.readSync(this.resFd, this.buf, 0, this.buf.length, this.pos)) > 0;) {
      this.pos += n;
      text += this.buf.toString('latin1', 0, n);
    }
    if (text) {
      const lines = (this.partial + text).split('\n');
      this.partial = lines.pop()!;
      for (const line of lines) {
        const w = this.waiting.shift();
        if (!w) break;
        const [code, flags = ''] = line.split(' ');
        if (code === 'skip') {
          // Given back: nobody waits for it. Otherwise the oldest item, skipped before it started.
          if (w.givenBack) this.freeK.push(w.k);
          else this.send(w);
          continue;
        }
        this.answered++;
        w.resolve(this.result(w, Number.parseInt(code, 10), flags));
      }
    }
  }

  private tick(): void {
    this.timer = null;
    this.poll();
    if (this.stopped && !this.waiting.some((w) => w.givenBack)) this.unstop();
    if (this.waiting.length === 0) return;
    const perItem = this.answered < 2 ? 0 : this.busyMs / this.answered;
    // poll() may have set one already, sending an item again.
    this.timer ??= setTimeout(() => this.tick(), Math.min(MAX_POLL_MS, Math.max(POLL_MS, perItem / 4)));
  }

  private result(w: Waiting, code: number | null, flags: string): ItemResult {
    const read = (on: boolean, f: string) => {
      if (!on) return '';
      try {
        return fs.readFileSync(f, 'utf8');
      } catch {
        return '';
      }
    };
    const stdout = read(flags.includes('o'), `${this.base}.${w.k}.out`);
    const stderr = read(flags.includes('e'), `${this.base}.${w.k}.err`);
    if (w.k >= 0) this.freeK.push(w.k);
    const now = Date.now();
    const durationMs = now - Math.max(w.sentAt, this.lastAnswer);
    this.lastAnswer = now;
    return {
      code, signal: null, tail: lastLines(stderr), durationMs, stdout, stderr,
      ...(code === null ? { spawnError: 'the shell running the items ended unexpectedly' } : {}),
    };
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.dead) this.child.stdin!.end();
    this.stopTimer();
    fs.closeSync(this.resFd);
    fs.rmSync(`${this.base}.res`, { force: true });
    // Items given back and not yet skipped must never run: the stop file goes when the shell exits.
    if (!this.stopped || this.dead) fs.rmSync(`${this.base}.stop`, { force: true });
    for (let k = 0; k < this.usedK; k++) {
      for (const ext of ['out', 'err']) fs.rmSync(`${this.base}.${k}.${ext}`, { force: true });
    }
  }
}
