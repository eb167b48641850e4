import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commandRefusal, envName, rewriteCommand, TemplateRefused } from '../src/core/config/command-template.js';
import { ITEM_VARS, shellQuote } from '../src/core/template.js';

// Issue 11.1: a file name must reach a per-item command as exactly one word in every quoting
// context, and nothing in it may ever run. Each command of the corpus is rewritten as dvcl does and
// run by the real shells with each hostile name; it prints its arguments in brackets.

/** Names that are code in some context: each breaks out of one kind of quoting. */
const HOSTILE = [
  'x";touch PWNED;".txt', 'a;touch PWNED;.txt', '$(touch PWNED).txt', '`touch PWNED`.txt', "x';touch PWNED;'.txt",
  '\\";touch PWNED;#.txt', "'\"$(touch PWNED)\"'.txt", '${PWNED:=$(touch PWNED)}.txt', 'a b.txt', '-n.txt', 'new\nline.txt',
  'back\\slash.txt', '*.txt', '\ttab.txt', 'ü€😀.txt', '%s %d.txt', '$HOME.txt', '!x.txt', '}{.txt', ')(.txt', "'", '"', '\\',
];

/** Commands as users write them: [template, what it prints for a value v]. */
const CORPUS: Array<[string, (v: string) => string]> = [
  ["printf '[%s]\\n' ${item}", (v) => `[${v}]\n`],
  ["printf '[%s]\\n' \"${item}\"", (v) => `[${v}]\n`],
  ["printf '[%s]\\n' \"pre ${item} post\"", (v) => `[pre ${v} post]\n`],
  ["printf '[%s]\\n' ${item}.bak", (v) => `[${v}.bak]\n`],
  ["printf '[%s]\\n' \"$(printf %s \"${item}\")\"", (v) => `[${v}]\n`],
  ["printf '[%s]\\n' \"$(printf %s ${item})\"", (v) => `[${v}]\n`],
  ["printf '[%s]\\n' \"`printf %s ${item}`\"", (v) => `[${v}]\n`],
  ["printf '[%s]\\n' `printf '<%s>' ${item}`", (v) => `[<${v}>]\n`],
  ["x=${item}; printf '[%s]\\n' \"$x\"", (v) => `[${v}]\n`],
  ["for f in ${item}; do printf '[%s]\\n' \"$f\"; done", (v) => `[${v}]\n`],
  ["(printf '[%s]\\n' ${item}) && printf '[%s]\\n' \"$( (printf %s ${item}) )\"", (v) => `[${v}]\n[${v}]\n`],
  ["sh -c \"printf '[%s]\\n' ${item}\"", (v) => `[${v}]\n`],
  ["sh -c \"printf '[%s]\\n' \\\"${item}\\\"\"", (v) => `[${v}]\n`],
  ["sh -c 'printf \"[%s]\\n\" ${item}'", (v) => `[${v}]\n`],
  ["sh -c 'printf \"[%s]\\n\" \"${item}\"'", (v) => `[${v}]\n`],
  ["sh -c 'printf \"[%s]\\n\" \"$1\"' _ ${item}", (v) => `[${v}]\n`],
  ["bash -e -o pipefail -c \"printf '[%s]\\n' ${item} | cat\"", (v) => `[${v}]\n`],
  ["sh -c \"printf '[%s][%s]\\n' ${item} $HOME\"", (v) => `[${v}][/home/nobody]\n`],
  ["sh -c \"printf '[%s][%s]\\n' ${item} $(printf %s x)\"", (v) => `[${v}][x]\n`],
  ["sh -c 'sh -c \"printf \\\"[%s]\\\\n\\\" ${item}\"'", (v) => `[${v}]\n`],
  ["eval \"printf '[%s]\\n' ${item}\"", (v) => `[${v}]\n`],
  ["eval printf \"'[%s]\\n'\" ${item}", (v) => `[${v}]\n`],
  ["env X=1 timeout 5 sh -c \"printf '[%s]\\n' ${item}\"", (v) => `[${v}]\n`],
  ["find . -maxdepth 0 -exec sh -c \"printf '[%s]\\n' ${item}\" \\;", (v) => `[${v}]\n`],
  ["cat <<EOF\n[${item}]\nEOF", (v) => `[${v}]\n`],
  ["cat <<-EOF && printf '[%s]\\n' ${out}\n\t[${item}]\n\tEOF", (v) => `[${v}]\n[${v}]\n`],
  ["printf '[%s]\\n' \"${HOME:+${item}}\"", (v) => `[${v}]\n`],
  ["printf '[%s]\\n' ${item} # a comment with ${item} and '", (v) => `[${v}]\n`],
  ["sh -c \"printf '[%s]\\n' ${item}\" && bash -c 'printf \"[%s]\\n\" ${out}'", (v) => `[${v}]\n[${v}]\n`],
];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-cmd-template-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** What `cmd` prints for each value, run as the item shells run it: exported values, `eval` in a subshell. */
function run(shell: string, cmd: string, values: string[]): string[] {
  const script = values.map((v) => `export${ITEM_VARS.map((n) => ` ${envName(n)}=${shellQuote(v)}`).join('')}; (eval ${shellQuote(cmd)}); printf '\\0'\n`).join('');
  const out = execFileSync(shell, ['-c', script], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH!, HOME: '/home/nobody' } });
  expect(fs.readdirSync(dir), `${shell}: ${cmd}`).toEqual([]);
  return out.split('\0').slice(0, -1);
}

describe('templates in commands', () => {
  for (const shell of ['/bin/sh', 'bash']) {
    it(`${shell}: every hostile name is one word in every context, and nothing in it runs`, () => {
      for (const [tpl, expected] of CORPUS) {
        const cmd = rewriteCommand(tpl);
        expect(cmd.replace(/ # .*/, ''), tpl).not.toMatch(/\$\{(item|out|stem|name|dir)\}/);
        // Unquoted in a word list (`for f in`, backquotes unquoted) the shell still splits and globs
        // what they expand to (as any "$var" there): one word only when the name has no blank or glob.
        const values = tpl.startsWith('printf \'[%s]\\n\' `') || tpl.startsWith('for f') ? HOSTILE.filter((v) => !/[\s*?[]/.test(v)) : HOSTILE;
        expect(run(shell, cmd, values), tpl).toEqual(values.map(expected));
      }
    });
  }

  it('leaves the rest of the command as written', () => {
    expect(rewriteCommand('cp ${item} ${out}')).toBe('cp "${DVCL_ITEM}" "${DVCL_OUT}"');
    expect(rewriteCommand('echo "a ${stem}" \'$x\' ${HOME} $HOME \\${item}')).toBe('echo "a ${DVCL_STEM}" \'$x\' ${HOME} $HOME \\${item}');
    expect(rewriteCommand('sh -c "cat ${item} > ${out}"')).toBe('sh -c \'cat "${DVCL_ITEM}" > "${DVCL_OUT}"\'');
    expect(rewriteCommand('bash script.sh "${item}" -c "${out}"')).toBe('bash script.sh "${DVCL_ITEM}" -c "${DVCL_OUT}"');
  });

  it('refuses what cannot be made safe, with a hint', () => {
    const refused = {
      "awk '{print \"${item}\"}' data.txt": /inside single quotes.*another program/,
      "sed 's/x/${stem}/' ${item}": /inside single quotes/,
      'echo $(( ${stem} + 1 ))': /arithmetic/,
      'ssh host cat ${item}': /ssh/,
      'sh -c "cat $(basename ${item})"': /nested shell/,
      "python3 - <<'EOF'\nprint('${item}')\nEOF": /quoted here-document/,
    };
    for (const [cmd, why] of Object.entries(refused)) {
      const r = commandRefusal(cmd);
      expect(r?.message, cmd).toMatch(why);
      expect(r?.hint, cmd).toMatch(/DVCL_|argument|scp|single quotes/);
    }
    expect(commandRefusal("sh -c 'cat ${item}'")).toBeNull();
    expect(commandRefusal("awk '{print $1}' ${item}")).toBeNull();
  });

  it('any text, however malformed (unclosed quotes, stray parentheses, half a here-document), is rewritten or refused, never an error', () => {
    const parts = ['${item}', '${out}', '"', "'", '`', '$(', ')', '(', '$((', '{', '}', '\\', ' ', '\n', 'sh', '-c', 'eval', '<<', 'EOF', '<<-', ';', '|', '#', '$', 'x', '${HOME', 'ssh'];
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 20_000; i++) {
      let cmd = '';
      for (let k = 1 + Math.floor(next() * 14); k > 0; k--) cmd += parts[Math.floor(next() * parts.length)] + (next() < 0.3 ? ' ' : '');
      try {
        rewriteCommand(cmd);
      } catch (e) {
        expect(e, JSON.stringify(cmd)).toBeInstanceOf(TemplateRefused);
      }
    }
  });
});
