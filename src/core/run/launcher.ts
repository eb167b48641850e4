// Stage commands started by a small resident shell rather than by Node. Node 20's libuv starts a child
// with fork() on the main thread and waits there until the child has exec'd; the fork copies the page
// tables of all of dvcl (~1.4 ms at 55 MB resident, ~9 ms at 160 MB on this machine). A `/bin/sh` of a
// megabyte forks for us instead, and dvcl's thread goes on meanwhile (BENCHMARKS.md, "Starting commands").
//
// One launcher per command running at once. It is started detached (its own session and process
// group, as each command was), and its commands run in its group: an interrupt signals the group,
// which the launcher survives (a trap) to report how its command ended. A command's stdout and stderr
// are the launcher's, each command's output ended by a marker; its exit status comes back on fd 3.
// Where a variable cannot pass through the shell, Node starts the command as before (exec.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import type { Readable } from 'node:stream';
import type { ProcessGroups } from './process-groups.js';

// `$1`: the marker. Requests are shell text ended by a line holding the marker alone (a command may
// span lines). `wait` returns early when a trapped signal comes: it waits again while the command lives.
const DRIVER = `__dvcl_m=$1; set --
trap : TERM INT HUP
__dvcl_j() {
  wait "$1"; __dvcl_c=$?
  while [ "$__dvcl_c" -gt 128 ] && kill -0 "$1" 2>/dev/null; do wait "$1"; __dvcl_c=$?; done
  printf '%s' "$__dvcl_m"; printf '%s' "$__dvcl_m" >&2; echo "e $__dvcl_c" >&3
}
echo ready >&3
__dvcl_s=
while IFS= read -r __dvcl_l; do
  if [ "$__dvcl_l" = "$__dvcl_m" ]; then eval "$__dvcl_s"; __dvcl_s=
  else __dvcl_s="$__dvcl_s$__dvcl_l
"; fi
done
`;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SIGNALS = new Map<number, NodeJS.Signals>();
for (const [name, n] of Object.entries(constants.signals)) if (!SIGNALS.has(n)) SIGNALS.set(n, name as NodeJS.Signals); // SIGABRT, not SIGIOT

export interface LaunchedCommand {
  shell: string; cmd: string;
  /** A simple command's words, started without the shell when its program is found (exec.ts directArgv). */
  direct: string[] | null;
  cwd: string; env: NodeJS.ProcessEnv; groups: ProcessGroups;
  onData: (stream: 'stdout' | 'stderr', buf: Buffer) => void;
}

export interface Launched { code: number | null; signal: NodeJS.Signals | null; error?: string }

interface Job { onData: LaunchedCommand['onData']; untrack: () => void; status?: number; ends: number; resolve: (r: Launched) => void }

class Launcher {
  private readonly child: ChildProcess;
  private readonly marker: Buffer;
  private readonly carry = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
  private job: Job | null = null;
  private control = '';
  readonly ready: Promise<boolean>;
  private dead = false;

  constructor(private readonly baseEnv: NodeJS.ProcessEnv) {
    const marker = `\x1fdvcl-${randomBytes(8).toString('hex')}\x1f`;
    this.marker = Buffer.from(marker);
    this.child = spawn('/bin/sh', ['-c', DRIVER, 'sh', marker], { env: baseEnv, detached: true, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
    let ready!: (ok: boolean) => void;
    this.ready = new Promise((r) => { ready = r; });
    this.child.on('error', () => this.died(ready));
    this.child.on('exit', () => this.died(ready));
    this.child.stdin!.on('error', () => {}); // a launcher gone: its exit says so
    (this.child.stdio[3] as Readable).on('data', (b: Buffer) => {
      this.control += b.toString('utf8');
      for (let i = this.control.indexOf('\n'); i >= 0; i = this.control.indexOf('\n')) {
        const line = this.control.slice(0, i);
        this.control = this.control.slice(i + 1);
        if (line === 'ready') ready(true);
        else if (line.startsWith('e ') && this.job) {
          this.job.status = Number(line.slice(2));
          this.settle();
        }
      }
    });
    for (const stream of ['stdout', 'stderr'] as const) this.child[stream]!.on('data', (b: Buffer) => this.output(stream, b));
  }

  get usable(): boolean {
    return !this.dead;
  }

  /** Null when the command cannot go through a launcher (a variable name the shell cannot export). */
  run(c: LaunchedCommand): Promise<Launched> | null {
    const text = this.script(c);
    if (text === null) return null;
    return new Promise((resolve) => {
      this.job = { onData: c.onData, untrack: c.groups.addPid(this.child.pid!), ends: 0, resolve };
      this.hold(true);
      this.child.stdin!.write(`${text}\n${this.marker.toString()}\n`);
    });
  }

  close(): void {
    this.child.stdin!.end();
    this.hold(false);
  }

  private script(c: LaunchedCommand): string | null {
    const sets: string[] = [];
    for (const [k, v] of Object.entries(c.env)) {
      if (v === undefined || this.baseEnv[k] === v) continue;
      if (!IDENTIFIER.test(k)) return null;
      sets.push(`export ${k}=${quote(v)}`);
    }
    for (const k of Object.keys(this.baseEnv)) {
      if (c.env[k] !== undefined) continue;
      if (!IDENTIFIER.test(k)) return null;
      sets.push(`unset ${k}`);
    }
    // A simple command whose program is not found goes to the shell, which says so as it would have.
    // (dash's `exec` takes no `--`: a program named like an option goes to the shell too.)
    const direct = c.direct && !c.direct[0].startsWith('-')
      ? `command -v ${quote(c.direct[0])} >/dev/null 2>&1 && exec ${c.direct.map(quote).join(' ')}; ` : '';
    // A subshell: its `cd` and variables stay its own; its signal handlers are the defaults again.
    return `(exec 3>&-; cd -- ${quote(c.cwd)} || exit 126; ${sets.map((s) => `${s}; `).join('')}${direct}exec ${quote(c.shell)} -c ${quote(c.cmd)}) </dev/null & __dvcl_j $!`;
  }

  /** A command's output up to the marker is its own; what follows (a background child writing on) goes to the next. */
  private output(stream: 'stdout' | 'stderr', b: Buffer): void {
    let buf = this.carry[stream].length ? Buffer.concat([this.carry[stream], b]) : b;
    for (;;) {
      const at = buf.indexOf(this.marker);
      if (at < 0) break;
      if (at > 0) this.job?.onData(stream, buf.subarray(0, at));
      buf = buf.subarray(at + this.marker.length);
      if (this.job) {
        this.job.ends++;
        this.settle();
      }
    }
    // Keep what could be the start of a marker cut across two reads.
    let keep = Math.min(buf.length, this.marker.length - 1);
    while (keep > 0 && !this.marker.subarray(0, keep).equals(buf.subarray(buf.length - keep))) keep--;
    if (buf.length > keep) this.job?.onData(stream, buf.subarray(0, buf.length - keep));
    this.carry[stream] = Buffer.from(buf.subarray(buf.length - keep));
  }

  private settle(): void {
    const job = this.job;
    if (!job || job.status === undefined || job.ends < 2) return;
    this.job = null;
    this.hold(false);
    job.untrack();
    const s = job.status;
    // The shell reports a death by signal N as 128 + N.
    const signal = s > 128 ? SIGNALS.get(s - 128) ?? null : null;
    job.resolve({ code: signal ? null : s, signal });
  }

  private died(ready: (ok: boolean) => void): void {
    if (this.dead) return;
    this.dead = true;
    ready(false);
    const job = this.job;
    this.job = null;
    this.hold(false);
    if (job) {
      job.untrack();
      job.resolve({ code: null, signal: null, error: 'the shell that started it was killed (it may still be running)' });
    }
  }

  /** Referenced only while a command runs: an idle launcher never keeps dvcl from exiting (it ends at its EOF). */
  private hold(on: boolean): void {
    const handles = [this.child, this.child.stdin, this.child.stdout, this.child.stderr, this.child.stdio[3]] as unknown as { ref?(): void; unref?(): void }[];
    for (const h of handles) {
      if (on) h?.ref?.();
      else h?.unref?.();
    }
  }
}

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Launchers for one run: one per command running at once, started on first use. */
export class Launchers {
  private readonly idle: Launcher[] = [];
  private readonly all: Launcher[] = [];
  private available: boolean | null = null;

  constructor(private readonly baseEnv: NodeJS.ProcessEnv) {}

  /** Null: start this command with Node (no launcher could start, or its environment cannot be passed). */
  async run(c: LaunchedCommand): Promise<Launched | null> {
    if (this.available === false || process.platform === 'win32') return null;
    let l = this.idle.pop();
    while (l && !l.usable) l = this.idle.pop();
    if (!l) {
      l = new Launcher(this.baseEnv);
      this.all.push(l);
    }
    if (!(await l.ready)) {
      this.available = false;
      return null;
    }
    this.available = true;
    const p = l.run(c);
    if (!p) {
      this.idle.push(l);
      return null;
    }
    const r = await p;
    if (l.usable) this.idle.push(l);
    return r;
  }

  close(): void {
    for (const l of this.all) l.close();
    this.all.length = 0;
    this.idle.length = 0;
  }
}
