import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { lastLines, trackGroup, type ExecResult } from './exec.js';

/*
 * A resident shell per job slot that runs a per-item stage's commands one after another.
 *
 * Node 20 starts a child by fork()ing the whole dvcl process and waiting until the child has
 * exec'd: ~2 ms of the main thread per item, whatever -j says, so 2,000 short items took 2.3x what
 * `xargs -P2` takes. A small shell forks a subshell per item instead, in parallel with dvcl.
 *
 * Protocol: one line per item on the shell's stdin, `K command`; the shell runs the command in a
 * subshell, with stdin from /dev/null and stdout/stderr into the files `<base>.K.out`/`.err`, and
 * answers with the exit status on a line of its stdout. K alternates between 0 and 1, so the next
 * item can be queued while one runs and its output is read while the next one writes its own. The subshell keeps a command's `cd`, `exit` and
 * variables from leaking into the next item. What differs from a fresh `sh -c`: a command killed
 * by a signal shows as exit code 128+N (as any shell reports it), and an item's stdout and stderr
 * reach the log one after the other rather than interleaved. A command text with a newline cannot
 * be sent as one line: the caller starts those the ordinary way (`acceptsCommand`).
 */
const DRIVER = `__dvcl_b=$1; set --
while IFS= read -r __dvcl_line; do
  __dvcl_k=\${__dvcl_line%% *}
  (eval "\${__dvcl_line#* }") </dev/null >"$__dvcl_b.$__dvcl_k.out" 2>"$__dvcl_b.$__dvcl_k.err"
  echo "$?"
done`;

export interface ItemResult extends ExecResult { stdout: string; stderr: string }

export class ItemShell {
  private readonly child: ChildProcess;
  private readonly base: string;
  /** Sent and not yet answered, oldest first (at most two: see the protocol). */
  private readonly waiting: ((code: number | null) => void)[] = [];
  private sent = 0;
  private buffered = '';
  /** The shell has exited: {@link run} can no longer be used. */
  dead = false;

  /** Start a shell in `cwd` with `env`; its item output files go into `tmpDir`. */
  constructor(opts: { shell: string; cwd: string; env: NodeJS.ProcessEnv; tmpDir: string; id: string }) {
    fs.mkdirSync(opts.tmpDir, { recursive: true });
    this.base = path.join(opts.tmpDir, opts.id);
    this.child = spawn(opts.shell, ['-c', DRIVER, 'dvcl-items', this.base], {
      cwd: opts.cwd, env: opts.env, detached: true, stdio: ['pipe', 'pipe', 'ignore'],
    });
    const untrack = trackGroup(this.child);
    this.child.stdin!.on('error', () => { /* the shell died: handled on close */ });
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      this.buffered += s;
      for (let nl = this.buffered.indexOf('\n'); nl >= 0; nl = this.buffered.indexOf('\n')) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        this.waiting.shift()?.(Number.parseInt(line, 10));
      }
    });
    const died = () => {
      this.dead = true;
      for (const w of this.waiting.splice(0)) w(null);
    };
    this.child.on('error', died);
    this.child.on('close', () => {
      untrack();
      died();
    });
  }

  /** Commands the line protocol can carry. */
  static acceptsCommand(cmd: string): boolean {
    return !cmd.includes('\n') && !cmd.includes('\r');
  }

  /**
   * Run one command; a second may be sent before the first ends (never more). `code` null (and
   * `spawnError`) when the shell itself died: start another.
   */
  async run(cmd: string): Promise<ItemResult> {
    const start = Date.now();
    const k = this.sent++ % 2;
    const code = this.dead ? null : await new Promise<number | null>((resolve) => {
      this.waiting.push(resolve);
      this.child.stdin!.write(`${k} ${cmd}\n`);
    });
    const read = (f: string) => {
      try {
        return fs.readFileSync(f, 'utf8');
      } catch {
        return '';
      }
    };
    const stdout = read(`${this.base}.${k}.out`);
    const stderr = read(`${this.base}.${k}.err`);
    return {
      code, signal: null, tail: lastLines(stderr), durationMs: Date.now() - start, stdout, stderr,
      ...(code === null ? { spawnError: 'the shell running the items ended unexpectedly' } : {}),
    };
  }

  /** End the shell (it exits at the end of its input) and remove its files. */
  close(): void {
    if (!this.dead) this.child.stdin!.end();
    for (const f of ['0.out', '0.err', '1.out', '1.err']) fs.rmSync(`${this.base}.${f}`, { force: true });
  }
}
