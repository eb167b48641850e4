import fs from 'node:fs';
import path from 'node:path';
import type { StageConfig } from '../pipeline.js';
import { directArgv, failureReason, runShell, scriptOf, type ExecResult } from './exec.js';
import type { ProcessGroups } from './process-groups.js';
import { oneLine } from '../errors.js';
import type { Hasher } from '../hashing/hash.js';
import { ItemShell, shellId } from './item-shell.js';
import type { Manifest } from '../ledger/manifest.js';
import { checkPlaced, prepareOuts } from '../store/outs.js';
import { abs } from '../util/paths.js';
import { envName, rewriteCommand } from '../config/command-template.js';
import type { ItemTask } from '../status/status.js';
import type { ReproCache } from '../store/local-cache.js'; // share
import { ITEM_VARS, shellQuote, TEMPLATE_RE, type ItemVar, type ItemVars } from '../template.js';

type ItemOutcome = { exec: ExecResult; log: string; notStarted?: boolean } | { error: string };
export interface StartedItem { t: ItemTask; queued: boolean; result: Promise<ItemOutcome> }
export interface ShellSlot {
  get(): ItemShell | null;
  room(inFlight: number): boolean;
  giveBack(): number;
  close(): void;
}

export interface ItemExecOptions {
  root: string;
  stateDir: string;
  shell: string;
  stage: StageConfig;
  env(extra?: Record<string, string>): NodeJS.ProcessEnv;
  hasher: Hasher;
  manifest: Manifest;
  runId: string;
  stageHash: string;
  logFd: number;
  groups: ProcessGroups;
  interrupted(): boolean;
  onFailure(item: string, reason: string): void;
  cache?: ReproCache | null;
}

export class ItemExecutor {
  private readonly cmds: string[];
  private readonly body: string;

  constructor(private readonly o: ItemExecOptions) {
    this.cmds = o.stage.cmd.map((c) => scriptOf(rewriteCommand(c)));
    // A plain program (no shell syntax) replaces the item's subshell instead of being forked from it.
    this.body = this.cmds.length > 1 ? this.cmds.map((c) => `(${c})`).join(' && ') : isPlain(o.stage.cmd[0]) ? `exec ${this.cmds[0]}` : this.cmds[0];
  }

  shellSlot(n: number): ShellSlot {
    let shell: ItemShell | null = null;
    const enabled = process.env.DVCL_ITEM_SHELL !== '0';
    return {
      get: () => {
        if (!enabled) return null;
        if (!shell || shell.dead) {
          shell?.close(); // a shell that died: its files go before the next one reuses their names
          shell = new ItemShell({
            shell: this.o.shell, cwd: abs(this.o.root, this.o.stage.wdir), env: this.o.env(),
            tmpDir: path.join(this.o.stateDir, 'tmp'), id: shellId(this.o.stage.name, n), groups: this.o.groups,
          });
        }
        return shell;
      },
      room: (inFlight) => {
        if (!enabled) return inFlight === 0;
        if (!shell || shell.dead) return inFlight < 2;
        return inFlight < shell.capacity() && shell.queued < shell.capacity();
      },
      giveBack: () => (shell ? shell.giveBack() : 0),
      close: () => shell?.close(),
    };
  }

  start(t: ItemTask, shell: ShellSlot): StartedItem {
    try {
      prepareOuts(this.o.root, [t.vars.out], this.o.stage.persist);
    } catch (e) {
      return { t, queued: false, result: Promise.resolve({ error: (e as Error).message }) };
    }
    const values = commandValues(t.vars);
    const sh = shell.get();
    if (sh) {
      const line = `export${ITEM_VARS.map((v) => ` ${envName(v)}=${shellQuote(values[v])}`).join('')}; ${this.body}`;
      const result = sh.run(line).then((r) => {
        const lines = (text: string, mark: string) => (text ? text.replace(/\n$/, '').split('\n').map((l) => `${mark} ${l}\n`).join('') : '');
        return { exec: r, log: lines(r.stdout, ' ') + lines(r.stderr, '!'), notStarted: r.notStarted };
      });
      return { t, queued: true, result };
    }
    return { t, queued: false, result: this.runAlone(values) };
  }

  private async runAlone(values: ItemVars): Promise<ItemOutcome> {
    let log = '';
    let last: ExecResult | undefined;
    const env = this.o.env(Object.fromEntries(ITEM_VARS.map((v) => [envName(v), values[v]])));
    for (const [i, tpl] of this.o.stage.cmd.entries()) {
      const cmd = plainCommand(tpl, values) ?? this.cmds[i];
      last = await runShell({
        shell: this.o.shell, cmd, cwd: abs(this.o.root, this.o.stage.wdir),
        env, groups: this.o.groups, onLine: (s, l) => { log += `${s === 'stderr' ? '!' : ' '} ${l}\n`; },
      });
      if (last.code !== 0) break;
    }
    return { exec: last!, log };
  }

  /** Nothing is recorded when it was interrupted, or never started as its shell died first (`not_started`: run it again). */
  async finish(started: StartedItem): Promise<'ok' | 'failed' | 'interrupted' | 'not_started'> {
    const { t } = started;
    const { root, manifest: m, stage } = this.o;
    const base = { hash: t.hash, stage_hash: this.o.stageHash, output: t.vars.out, run: this.o.runId };
    // Item output goes to the log only (thousands of items would drown the terminal); a failure is shown.
    const fail = (why: string): 'failed' => {
      // .manifest.json is shared through git: a path on this machine in a command's stderr becomes project-relative.
      const reason = why.split(root + path.sep).join('').split(root).join('.');
      m.recordFailure(stage.name, t.item, { ...base, reason });
      this.o.onFailure(t.item, reason);
      return 'failed';
    };
    const r = await started.result;
    if ('error' in r) return fail(r.error);
    // After a signal, an item that failed may have been stopped by it: it is not recorded. One that
    // succeeded had finished (its answer may reach dvcl only when the signal does): it is.
    if (this.o.interrupted() && (r.notStarted || r.exec.code !== 0)) return 'interrupted';
    if (r.notStarted) return 'not_started';
    if (r.log) fs.writeSync(this.o.logFd, `== ${t.item}\n${r.log}`);
    if (r.exec.code !== 0) return fail(failureReason(r.exec));
    try {
      checkPlaced(root, t.vars.out);
    } catch (e) {
      return fail((e as Error).message);
    }
    const h = this.o.hasher.hash(t.vars.out);
    if (!h) return fail(`the command did not produce ${oneLine(t.vars.out)}`);
    m.recordSuccess(stage.name, t.item, { ...base, output_hash: h.hash, output_nfiles: h.nfiles });
    this.o.cache?.add(t.vars.out, h.hash); // share: kept for checkout and push
    return 'ok';
  }
}

function isPlain(cmd: string): boolean {
  return directArgv(cmd.replace(TEMPLATE_RE, 'x')) !== null;
}

export function plainCommand(cmd: string, values: ItemVars): string | null {
  if (!isPlain(cmd)) return null;
  const words = directArgv(cmd.replace(TEMPLATE_RE, (_, v: string) => `\0${v}\0`))!;
  return words.map((w) => shellQuote(w.replace(/\0([a-z_]+)\0/g, (_, v: string) => values[v as ItemVar]))).join(' ');
}

/** A top-level path starting with `-` is given as `./-n.txt`, so that programs do not read it as an option. */
function commandValues(vars: ItemVars): ItemVars {
  const dash = (p: string) => (p.startsWith('-') ? `./${p}` : p);
  return { ...vars, item: dash(vars.item), out: dash(vars.out) };
}
