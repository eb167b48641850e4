import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { directArgv, runShell } from '../src/core/run/exec.js';
import { ProcessGroups } from '../src/core/run/process-groups.js';
import { plainCommand } from '../src/core/run/item-exec.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-exec-'));
  dirs.push(d);
  return d;
}

const run = (cmd: string, cwd: string) => runShell({ shell: '/bin/sh', cmd, cwd, env: { PATH: process.env.PATH }, groups: new ProcessGroups() });

describe('directArgv: which commands start without the shell', () => {
  it('splits simple commands and removes single quotes, as sh would', () => {
    expect(directArgv('cp a b')).toEqual(['cp', 'a', 'b']);
    expect(directArgv("  node scripts/parse.js 'data/raw/a b.html'\t'out/x.json' --lr=0.1 ")).toEqual(['node', 'scripts/parse.js', 'data/raw/a b.html', 'out/x.json', '--lr=0.1']);
    expect(directArgv("cp 'a;rm -rf x' '$(id)' ''")).toEqual(['cp', 'a;rm -rf x', '$(id)', '']);
    expect(directArgv("x'a'b")).toEqual(['xab']);
  });

  it('leaves everything else to the shell', () => {
    for (const cmd of [
      'a && b', 'a; b', 'a | b', 'a > out', 'a < in', 'echo $HOME', 'echo ${X}', 'ls *.txt', 'a # note', 'cd x',
      'echo hi', 'test -f x', 'X=1 cmd', 'a "b"', 'a\\ b', 'a\nb', "a 'unclosed", '~/bin/x', '(a)', 'a `b`', '', '   ',
    ]) expect(directArgv(cmd), cmd).toBeNull();
  });
});

describe('runShell', () => {
  it('runs a direct command with hostile item names as single arguments', async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'a b;touch pwned.txt'), 'x\n');
    const cmd = plainCommand('cp ${item} ${out}', { item: 'a b;touch pwned.txt', out: '$(touch pwned2).out', stem: '', name: '', dir: '.' })!;
    expect(directArgv(cmd)).not.toBeNull();
    const r = await run(cmd, dir);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(path.join(dir, '$(touch pwned2).out'), 'utf8')).toBe('x\n');
    expect(fs.readdirSync(dir).sort()).toEqual(['$(touch pwned2).out', 'a b;touch pwned.txt']);
  });

  it('a command that cannot start fails as it does in the shell: exit 127 or 126 and the shell\'s message', async () => {
    const dir = tmp();
    const missing = await run('no-such-program-dvcl arg', dir);
    expect(missing.code).toBe(127);
    expect(missing.spawnError).toBeUndefined();
    expect(missing.tail).toMatch(/no-such-program-dvcl.*not found/);
    fs.writeFileSync(path.join(dir, 'data.txt'), 'not a program\n');
    const notExecutable = await run('./data.txt', dir);
    expect(notExecutable.code).toBe(126);
  });

  it('reports a failing direct command\'s exit code and stderr', async () => {
    const r = await run('ls /no/such/dir/dvcl', tmp());
    expect(r.code).not.toBe(0);
    expect(r.tail).toMatch(/no\/such\/dir/);
  });
});
