import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessGroups } from '../src/core/run/process-groups.js';
import { ItemShell, queueFor } from '../src/core/run/item-shell.js';

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});

/** The groups every shell of these tests joins: what a second Ctrl-C kills. */
const groups = new ProcessGroups();

function shell(): { sh: ItemShell; dir: string } {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-ish-')));
  dirs.push(dir);
  const sh = new ItemShell({ shell: '/bin/sh', cwd: dir, env: { PATH: process.env.PATH, STAGE_VAR: 'from-stage' }, tmpDir: path.join(dir, '.tmp'), id: 't', groups });
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

  it('carries command text with newlines and quotes of every kind', async () => {
    const { sh } = shell();
    const r = await sh.run(`printf '%s|' 'a\nb'\necho "it's" 'say "hi"'`);
    expect(r).toMatchObject({ code: 0, stdout: `a\nb|it's say "hi"\n` });
    sh.close();
  });

  it('reports a killed shell as an error, not a success, and is marked dead; items behind never started', async () => {
    const { sh } = shell();
    const pending = sh.run('echo begun >&2; sleep 30');
    const behind = sh.run('echo never');
    await new Promise((r) => setTimeout(r, 200));
    groups.killAll('SIGKILL'); // what a second Ctrl-C does: the shell's whole process group
    const r = await pending;
    expect(r).toMatchObject({ code: null, signal: 'SIGKILL', stderr: 'begun\n' });
    expect(r.notStarted).toBeUndefined();
    expect(await behind).toMatchObject({ code: null, notStarted: true, stdout: '' });
    expect(sh.dead).toBe(true);
    sh.close();
  });

  it('queues more of short items, two of long ones, so long items are shared out between the slots', async () => {
    expect(queueFor(1000)).toBe(2);
    expect(queueFor(25)).toBe(2);
    expect(queueFor(5)).toBe(6);
    expect(queueFor(0)).toBe(32);
    const { sh } = shell();
    expect(sh.capacity()).toBe(2);
    for (let i = 0; i < 5; i++) await Promise.all([sh.run(':'), sh.run(':')]);
    expect(sh.capacity()).toBeGreaterThan(2);
    const slow = shell().sh;
    for (let i = 0; i < 2; i++) await Promise.all([slow.run('sleep 0.05'), slow.run('sleep 0.05')]);
    expect(slow.capacity()).toBe(2);
    sh.close();
    slow.close();
  });

  it('gives back the items queued behind a running one; they never run, later ones do', async () => {
    const { sh, dir } = shell();
    const long = sh.run('sleep 0.3; echo long');
    const queued = [1, 2, 3].map((i) => sh.run(`echo ran > q${i}.txt`));
    await new Promise((r) => setTimeout(r, 100));
    expect(sh.giveBack()).toBe(3);
    expect(sh.giveBack()).toBe(0); // nothing left behind the running one
    const next = sh.run('echo next'); // sent after: runs once the given-back ones are skipped
    expect((await long).stdout).toBe('long\n');
    expect(await next).toMatchObject({ code: 0, stdout: 'next\n' });
    expect(sh.stopped).toBe(false);
    expect((await sh.run('echo again')).stdout).toBe('again\n');
    for (const i of [1, 2, 3]) expect(fs.existsSync(path.join(dir, `q${i}.txt`))).toBe(false);
    let settled = false;
    void Promise.race(queued).then(() => { settled = true; });
    await new Promise((r) => setTimeout(r, 50));
    expect(settled).toBe(false); // given back: their results are for whoever runs them now
    sh.close();
  });

  it('runs the oldest item after all if it had not started when the others were given back', async () => {
    const { sh, dir } = shell();
    const first = sh.run('echo one > one.txt; echo one');
    const second = sh.run('echo two > two.txt');
    // At once: the shell has most likely not reached the first item yet.
    expect(sh.giveBack()).toBe(1);
    expect(await first).toMatchObject({ code: 0, stdout: 'one\n' });
    expect(fs.existsSync(path.join(dir, 'one.txt'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'two.txt'))).toBe(false);
    void second;
    sh.close();
  });

  it('runs commands with the shell\'s usual options: > overwrites a file (no noclobber)', async () => {
    const { sh, dir } = shell();
    const r = await sh.run('echo a > f.txt; echo b > f.txt; cat f.txt');
    expect(r).toMatchObject({ code: 0, stdout: 'b\n' });
    expect(fs.readFileSync(path.join(dir, 'f.txt'), 'utf8')).toBe('b\n');
    sh.close();
  });
});
