// Stage commands through the resident shell (src/core/run/launcher.ts): what a stage's command sees
// and what dvcl reports of it must be what a command started by Node sees and reports.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runShell, type ShellCommand } from '../src/core/run/exec.js';
import { Launchers } from '../src/core/run/launcher.js';
import { ProcessGroups } from '../src/core/run/process-groups.js';
import { cleanupRepos, pipelineRepo } from './helpers/pipeline.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
  cleanupRepos();
});

function tmp(name = 'dvcl-launch-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), name));
  cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

const base = { PATH: process.env.PATH, HOME: process.env.HOME, DVCL_KEEP: 'kept', DVCL_DROP: 'dropped' } as NodeJS.ProcessEnv;

function launchers(): Launchers {
  const l = new Launchers(base);
  cleanups.push(() => l.close());
  return l;
}

async function both(cmd: string, extra: Partial<ShellCommand> = {}) {
  const lines: string[] = [];
  const opts = (launch: Launchers | undefined): ShellCommand => ({
    shell: '/bin/sh', cmd, cwd: extra.cwd ?? tmp(), env: extra.env ?? base, groups: extra.groups ?? new ProcessGroups(),
    onLine: (s, l) => lines.push(`${s}:${l}`), launchers: launch,
  });
  const viaNode = await runShell(opts(undefined));
  const nodeLines = lines.splice(0);
  const viaShell = await runShell(opts(extra.launchers ?? launchers()));
  return { viaNode, viaShell, nodeLines, shellLines: lines };
}

describe('commands through the resident shell report what Node reports', () => {
  it('exit codes, the shell\'s message for a missing program, stdout and stderr line by line', async () => {
    for (const [cmd, code] of [['true', 0], ['exit 3', 3], ['no-such-program-dvcl x', 127], ['echo out; echo err >&2; printf tail', 0]] as const) {
      const r = await both(cmd);
      expect(r.viaShell.code, cmd).toBe(code);
      expect(r.viaShell.signal).toBeNull();
      expect(r.shellLines, cmd).toEqual(r.nodeLines);
      expect(r.viaShell.tail, cmd).toBe(r.viaNode.tail.replace(/^sh: \d+: /, 'sh: 1: '));
    }
  });

  it('a command killed by a signal is reported as killed by it', async () => {
    const r = await both('kill -TERM $$; sleep 5');
    expect(r.viaNode).toMatchObject({ code: null, signal: 'SIGTERM' });
    expect(r.viaShell).toMatchObject({ code: null, signal: 'SIGTERM' });
  });

  it('the environment: variables added, changed (newlines and quotes kept) and removed; the working folder', async () => {
    const cwd = tmp("dvcl launch 'q\" ");
    const env: NodeJS.ProcessEnv = { ...base, DVCL_KEEP: "it's\n\"two\" lines", DVCL_NEW: 'x y' };
    delete env.DVCL_DROP;
    const cmd = 'printf "%s|" "$DVCL_KEEP" "$DVCL_NEW" "${DVCL_DROP-unset}" "$(pwd -P)"';
    const r = await both(cmd, { cwd, env });
    expect(r.viaShell.code).toBe(0);
    expect(r.shellLines).toEqual(r.nodeLines);
    expect(r.shellLines.join('\n')).toBe(`stdout:it's\nstdout:"two" lines|x y|unset|${fs.realpathSync(cwd)}|`);
  });

  it('a variable the shell cannot export still reaches a simple command (Node starts that one)', async () => {
    const env = { ...base, 'odd.name': 'v' };
    const r = await both('printenv odd.name', { env });
    expect(r.viaNode.code).toBe(0);
    expect(r.viaShell.code).toBe(0);
    expect(r.shellLines).toEqual(['stdout:v']);
  });

  it('multi-line scripts, large output and bytes that look like the marker arrive whole and in order', async () => {
    const script = 'set -e\nprintf "\\037dvcl-\\037\\n"\nseq 1 200000\necho done >&2';
    const r = await both(script);
    expect(r.viaShell.code).toBe(0);
    expect(r.shellLines.length).toBe(200002);
    expect(r.shellLines).toEqual(r.nodeLines);
  });
});

describe('launchers', () => {
  it('one per command running at once; outputs do not mix; each is used again', async () => {
    const l = launchers();
    const run = (n: number) => {
      const lines: string[] = [];
      return runShell({ shell: '/bin/sh', cmd: `for i in 1 2 3 4 5; do echo ${n}-$i; sleep 0.01; done; echo $PPID`, cwd: tmp(), env: base, groups: new ProcessGroups(), launchers: l, onLine: (_, x) => lines.push(x) })
        .then((r) => ({ r, lines }));
    };
    const first = await Promise.all([run(1), run(2)]);
    for (const [i, { r, lines }] of first.entries()) {
      expect(r.code).toBe(0);
      expect(lines.slice(0, 5)).toEqual([1, 2, 3, 4, 5].map((k) => `${i + 1}-${k}`));
    }
    const parents = new Set(first.map((f) => f.lines[5]));
    expect(parents.size).toBe(2); // two shells
    const again = await Promise.all([run(3), run(4)]);
    expect(new Set(again.map((f) => f.lines[5]))).toEqual(parents); // the same two, not new ones
  });

  it('an interrupt reaches the command, the launcher reports it and runs the next command', async () => {
    const l = launchers();
    const groups = new ProcessGroups();
    const dir = tmp();
    const running = runShell({ shell: '/bin/sh', cmd: 'touch started; sleep 30', cwd: dir, env: base, groups, launchers: l });
    for (let i = 0; i < 200 && !fs.existsSync(path.join(dir, 'started')); i++) await new Promise((r) => setTimeout(r, 10));
    expect(groups.killAll('SIGTERM')).toBe(1);
    expect(await running).toMatchObject({ code: null, signal: 'SIGTERM' });
    const next = await runShell({ shell: '/bin/sh', cmd: 'echo next', cwd: dir, env: base, groups, launchers: l, onLine: () => {} });
    expect(next.code).toBe(0);
  });

  it('a launcher killed under its command: the command fails with a reason, the next one gets a new launcher', async () => {
    const l = launchers();
    const dir = tmp();
    const running = runShell({ shell: '/bin/sh', cmd: 'echo $PPID > launcher; sleep 30', cwd: dir, env: base, groups: new ProcessGroups(), launchers: l });
    const file = path.join(dir, 'launcher');
    for (let i = 0; i < 200 && !(fs.existsSync(file) && fs.readFileSync(file, 'utf8').endsWith('\n')); i++) await new Promise((r) => setTimeout(r, 10));
    const launcher = Number(fs.readFileSync(file, 'utf8'));
    process.kill(launcher, 'SIGKILL');
    const r = await running;
    expect(r.code).toBeNull();
    expect(r.spawnError).toMatch(/killed/);
    const next = await runShell({ shell: '/bin/sh', cmd: 'true', cwd: dir, env: base, groups: new ProcessGroups(), launchers: l });
    expect(next.code).toBe(0);
    process.kill(-launcher, 'SIGKILL'); // the sleep left in the dead launcher's group
  });
});

describe('repro', () => {
  it('starts the commands of ordinary stages from one resident shell per job slot, not one process of its own each', async () => {
    // Each command's parent: its name, and its pid.
    const stage = (n: number) => `  s${n}:\n    cmd: ps -o comm= -p $PPID > p${n}.txt && echo $PPID >> p${n}.txt\n    outs: [p${n}.txt]\n`;
    const repo = await pipelineRepo(`version: 1\nstages:\n${[1, 2, 3, 4].map(stage).join('')}`);
    const r = repo.run('repro', '-j', '1');
    expect(r.code, r.stderr).toBe(0);
    const parents = [1, 2, 3, 4].map((n) => repo.read(`p${n}.txt`).trim().split('\n'));
    expect(new Set(parents.map((p) => p.join(' '))).size).toBe(1); // one parent for the four
    expect(parents[0][0]).toBe('sh'); // a shell, not dvcl (node)
  });
});
