import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { lastLines, type ExecResult } from './exec.js';
import type { ProcessGroups } from './process-groups.js';
import { pidAlive } from '../util/process.js';
import { shellQuote } from '../template.js';

/*
 * A resident shell per job slot that runs a per-item stage's commands one after another.
 *
 * Node 20 starts a child by fork()ing the whole dvcl process and waiting until the child has
 * exec'd: ~2 ms of the main thread per item, whatever -j says, so 2,000 short items took 2.3x what
 * `xargs -P2` takes. A small shell forks a subshell per item instead, in parallel with dvcl.
 *
 * Protocol. The shell reads its script from stdin (`sh -s`): first the DRIVER below, then one line
 * per item, `__dvcl_r K 'command'`, the command single-quoted so any text (newlines included) is
 * one argument. `__dvcl_r` runs the command in a subshell (so a `cd`, `exit` or variable does not
 * leak into the next item), stdin from /dev/null, stdout and stderr into the files `<base>.K.out`
 * and `.err`, and appends `<exit status> <o if stdout is non-empty><e if stderr is>` to the
 * results file `<base>.res`.
 *
 * Why a results file that dvcl polls, and not the shell's stdout: a pipe or socket that Node reads
 * wakes dvcl's process once per item, and on a two-core machine those wake-ups cost the shells
 * ~20% of their speed (2,000 `cp` items: 2.2 s against 1.85 s with a file, xargs -P2 1.9 s). So
 * dvcl reads the file every POLL_MS and keeps enough items queued in the shell to cover the
 * interval (see capacity()): the shell never waits for dvcl, and dvcl wakes ~100 times a second
 * rather than once per item.
 *
 * Items queued behind a long one can be given back (giveBack()), for a slot with nothing left to
 * do: dvcl creates `<base>.stop`, and the shell answers `skip` instead of running an item sent
 * before while that file exists (`__dvcl_r`; items sent after go as `__dvcl_f`, which runs them).
 * Once the shell has answered every item given back, dvcl removes the file. The oldest item not
 * yet answered when the file appeared may or may not have started: if it is skipped, dvcl sends
 * it again.
 *
 * Before each item the shell checks that dvcl is still there (`kill -0 $PPID`, a builtin): after
 * a `kill -9` of dvcl it finishes the item running and starts none of those queued.
 *
 * What differs from a fresh `sh -c`: a command killed by a signal shows as exit code 128+N (as any
 * shell reports it), and an item's stdout and stderr reach the log one after the other rather
 * than interleaved.
 */
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

/**
 * How often dvcl reads the results file while items are queued: every POLL_MS, or for long items
 * every quarter of an item's time up to MAX_POLL_MS (hours of minute-long items need no 100 Hz).
 */
const POLL_MS = 10;
const MAX_POLL_MS = 250;
/** Queue enough items to keep the shell busy for this long between two polls. */
const QUEUE_MS = 25;
/** Never more items queued in one shell (each has its own output files). */
const MAX_QUEUE = 32;

/**
 * How many items a shell keeps queued (the one running included) when each takes `itemMs`: enough
 * for QUEUE_MS of work, at least 2. It is also what a `kill -9` of dvcl can lose per job slot.
 */
export function queueFor(itemMs: number): number {
  return Math.min(MAX_QUEUE, Math.max(2, Math.ceil(QUEUE_MS / Math.max(itemMs, 0.05)) + 1));
}

/**
 * The name of a job slot's shell files, `<dvcl pid>-<stage>-<slot>.…`: the pid first, so the
 * files of a dvcl that was killed can be told from those of a live one.
 */
export function shellId(stage: string, slot: number): string {
  return `${process.pid}-${stage}-${slot}`;
}

/**
 * Remove the files that item shells of dvcl processes that no longer exist left in `tmpDir` (a
 * `kill -9` gives close() no chance). For the run that holds the lock, once it has stopped what
 * those runs left running (orphans.ts); a live dvcl's files, and this process's, stay.
 */
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
  /** Sent and not yet answered, oldest first: the shell runs them in this order. */
  private readonly waiting: Waiting[] = [];
  /** Output file numbers not in use by a waiting item. */
  private readonly freeK: number[] = Array.from({ length: MAX_QUEUE }, (_, i) => MAX_QUEUE - 1 - i);
  private readonly buf = Buffer.alloc(64 * 1024);
  private pos = 0;
  private partial = '';
  private timer: NodeJS.Timeout | null = null;
  /** For capacity(): time with items queued, and items answered in it. */
  private busyMs = 0;
  private answered = 0;
  private lastPoll = 0;
  private lastAnswer = 0;
  private corked = false;
  private closed = false;
  /** Output file numbers used so far (close() removes those files). */
  private usedK = 0;
  /** `<base>.stop` exists: items given back are still to be answered `skip`. */
  stopped = false;
  /** The shell has exited: {@link run} can no longer be used. */
  dead = false;

  /** Start a shell in `cwd` with `env`; its item output files go into `tmpDir`. */
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
        // Closed with items given back: the file had to stay until the shell had skipped them.
        if (this.stopped) fs.rmSync(`${this.base}.stop`, { force: true });
      } else {
        this.poll(); // what it answered before it ended
      }
      // The oldest item not answered was running (or about to): it fails, with what it wrote to
      // stderr, killed by the signal that killed its shell. Those behind it never started: they
      // say so, to be run again.
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

  /**
   * How many items to keep queued: 2 until the items' duration is known (one running, one waiting),
   * then enough to cover QUEUE_MS, so short items never leave the shell idle between two polls
   * while long ones are not hoarded by one shell.
   */
  capacity(): number {
    return this.answered < 2 ? 2 : queueFor(this.busyMs / this.answered);
  }

  /** Items sent and not yet answered. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Queue one command (at most MAX_QUEUE at a time). `code` is null (and `spawnError` set) when the
   * shell itself died: start another.
   */
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
    // Lines sent in one tick go to the shell in one write.
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

  /**
   * Take back the items that will not start: every item sent after the oldest one not yet answered
   * (which may be running). Returns how many, counted from the most recently sent; their results
   * never settle. The shell takes no item until it has answered the ones given back.
   */
  giveBack(): number {
    if (this.dead || this.stopped || this.waiting.length < 2) return 0;
    fs.writeFileSync(`${this.base}.stop`, '');
    this.stopped = true;
    // An item answered before the file existed is read now; the shell checks the file before each
    // item, so of those still unanswered only the oldest can have started.
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

  /** Read the answers the shell has appended since the last poll and settle their items. */
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
          // Given back: nobody waits for it. Otherwise the oldest item, skipped as it had not started.
          if (w.givenBack) this.freeK.push(w.k);
          else this.send(w);
          continue;
        }
        this.answered++;
        w.resolve(this.result(w, Number.parseInt(code, 10), flags));
      }
    }
  }

  /** Every POLL_MS or more (see there) while items are queued. */
  private tick(): void {
    this.timer = null;
    this.poll();
    if (this.stopped && !this.waiting.some((w) => w.givenBack)) this.unstop();
    if (this.waiting.length === 0) return;
    const perItem = this.answered < 2 ? 0 : this.busyMs / this.answered;
    // (poll may have set one already, sending an item again)
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

  /** End the shell (it exits at the end of its input) and remove its files. */
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
