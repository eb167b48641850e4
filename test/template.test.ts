import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expand, itemVars, shellQuote } from '../src/core/template.js';

// Item values are substituted into commands that /bin/sh runs: check them with the real shell.

const HOSTILE = ['a b.txt', 'x;touch INJECTED', '$(touch INJECTED).txt', '`touch INJECTED`.txt', "it's.txt", '-rf.txt', 'ü€.txt', 'a"b\\c.txt', 'new\nline.txt', '$HOME.txt', ''];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-template-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The arguments a command line gives to printf, one per line in brackets; and no side effect. */
function run(cmd: string): string {
  const out = execFileSync('/bin/sh', ['-c', cmd], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: '/home/nobody' } });
  expect(fs.readdirSync(dir)).toEqual([]);
  return out;
}

describe('expand in commands', () => {
  it('makes each value one word, unquoted or in double quotes', () => {
    for (const v of HOSTILE) {
      expect(run(expand("printf '[%s]\\n' ${item}", { item: v }, true))).toBe(`[${v}]\n`);
      expect(run(expand('printf "[%s]\\n" "${item}"', { item: v }, true))).toBe(`[${v}]\n`);
      expect(run(expand('printf "[%s]\\n" "pre ${item} post"', { item: v }, true))).toBe(`[pre ${v} post]\n`);
    }
  });

  it("quotes a value inside single quotes for the nested shell that reads it", () => {
    for (const v of HOSTILE) {
      expect(run(expand(`sh -c 'printf "[%s]\\n" \${item}'`, { item: v }, true))).toBe(`[${v}]\n`);
    }
  });

  it('keeps quotes, escapes and other ${...} of the command as they are', () => {
    expect(expand(`echo "\\"\${item}" '\${item}' \\' \${item} \${HOME} \${other}`, { item: 'a b' }, true))
      .toBe(`echo "\\"a b" ''\\''a b'\\''' \\' 'a b' \${HOME} \${other}`);
    expect(expand('cp ${item} ${out}', { item: 'in/a.txt', out: 'out/a.txt' }, true)).toBe('cp in/a.txt out/a.txt');
  });

  it('substitutes paths unquoted in out templates', () => {
    expect(itemVars('data/raw/a b.html', 'out/${dir}/${stem}.json')).toEqual({ item: 'data/raw/a b.html', name: 'a b.html', stem: 'a b', dir: 'data/raw', out: 'out/data/raw/a b.json' });
    expect(shellQuote('-rf')).toBe("'-rf'");
  });
});
