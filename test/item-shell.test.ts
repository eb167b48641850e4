import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll } from '../src/core/exec.js';
import { ItemShell } from '../src/core/item-shell.js';

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function shell(): { sh: ItemShell; dir: string } {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-ish-')));
  dirs.push(dir);
  const sh = new ItemShell({ shell: '/bin/sh', cwd: dir, env: { PATH: process.env.PATH, STAGE_VAR: 'from-stage' }, tmpDir: path.join(dir, '.tmp'), id: 't' });
  return { sh, dir };
}

describe('the resident item shell', () => {
  it('runs each command with its own exit status, stdout and stderr', async () => {
    const { sh } = shell();
    const ok = await sh.run('echo out; echo err >&2; echo "$STAGE_VAR"');
    expect(ok).toMatchObject({ code: 0, stdout: 'out\nfrom-stage\n', stderr: 'err\n' });
    const bad = await sh.run('echo partial; echo "cannot parse x" >&2; exit 3');
    expect(bad).toMatchObject({ code: 3, stdout: 'partial\n', tail: 'cannot parse x' });
    expect((await sh.run('no-such-program-dvcl')).code).toBe(127);
    sh.close();
  });

  it('keeps one item from leaking into the next: cd, variables, positional parameters, exit', async () => {
    const { sh, dir } = shell();
    fs.mkdirSync(path.join(dir, 'sub'));
    await sh.run('cd sub; X=leaked; export Y=leaked; exit 0');
    const r = await sh.run('pwd; echo "[$X][$Y][$1][$#]"');
    expect(r.stdout).toBe(`${dir}\n[][][][0]\n`);
    sh.close();
  });

  it('gives the command no stdin, and quoting survives the trip', async () => {
    const { sh } = shell();
    const r = await sh.run(`cat; printf '%s|' 'a b' "c'd" '$(id)' '\`id\`'`);
    expect(r).toMatchObject({ code: 0, stdout: `a b|c'd|$(id)|\`id\`|` });
    sh.close();
  });

  it('takes the next command while one runs, and keeps their results apart', async () => {
    const { sh } = shell();
    const first = sh.run('sleep 0.2; echo first; echo e1 >&2; exit 4');
    const second = sh.run('echo second');
    const third = first.then(() => sh.run('echo third >&2'));
    expect(await first).toMatchObject({ code: 4, stdout: 'first\n', stderr: 'e1\n' });
    expect(await second).toMatchObject({ code: 0, stdout: 'second\n', stderr: '' });
    expect(await third).toMatchObject({ code: 0, stdout: '', stderr: 'third\n' });
    sh.close();
  });

  it('refuses command text with a newline (the caller starts it the ordinary way)', () => {
    expect(ItemShell.acceptsCommand("cp 'a\nb' out")).toBe(false);
    expect(ItemShell.acceptsCommand("cp 'a b' out")).toBe(true);
  });

  it('reports a killed shell as an error, not a success, and is marked dead', async () => {
    const { sh } = shell();
    const pending = sh.run('sleep 30');
    await new Promise((r) => setTimeout(r, 200));
    killAll('SIGKILL'); // what a second Ctrl-C does: the shell's whole process group
    const r = await pending;
    expect(r.code).toBeNull();
    expect(r.spawnError).toMatch(/ended unexpectedly/);
    expect(sh.dead).toBe(true);
    sh.close();
  });
});
