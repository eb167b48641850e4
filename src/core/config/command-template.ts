import { ITEM_VARS, TEMPLATE_RE, type ItemVar } from '../template.js';

/*
 * How `${item}` & co. reach a per-item command: never as text. Each template is rewritten into a
 * reference to an environment variable that dvcl exports for the item (`${item}` → DVCL_ITEM), so
 * no value is ever parsed by a shell as code, however the command nests quotes, `$(…)` or
 * backquotes. The reference is quoted for where it stands, so it expands to exactly one word:
 *
 *   cp ${item} ${out}             → cp "${DVCL_ITEM}" "${DVCL_OUT}"
 *   echo "$(cat "${item}")"       → echo "$(cat "${DVCL_ITEM}")"
 *   sh -c "cat ${item} > ${out}"  → sh -c 'cat "${DVCL_ITEM}" > "${DVCL_OUT}"'
 *
 * The one way left for a value to become code is an outer shell expanding it into text that a
 * second shell then parses: the script of `sh -c` (bash, dash, zsh… su, flock, script, runuser),
 * the arguments of `eval`, `watch` and `parallel`. Such a script is taken apart, rewritten for the
 * shell that reads it, and passed in single quotes, so the inner shell expands the reference.
 * What cannot be made safe is refused when the config is read: a template inside single quotes for
 * another program (awk, sed, python… would read a file name as code), in `$(( ))` (arithmetic
 * evaluates it), in a quoted here-document, or anywhere in an `ssh` command (the remote shell has no
 * DVCL_ITEM).
 */

/** The environment variable that carries a template's value: `item` → `DVCL_ITEM`. */
export function envName(v: ItemVar): string {
  return `DVCL_${v.toUpperCase()}`;
}

export class TemplateRefused extends Error {
  constructor(message: string, readonly hint: string) {
    super(message);
  }
}

/** The command as the shell will run it, with every template a quoted variable reference. */
export function rewriteCommand(cmd: string): string {
  return new Rewriter(cmd).script();
}

/** Why `cmd` cannot be run safely, or null. */
export function commandRefusal(cmd: string): TemplateRefused | null {
  try {
    rewriteCommand(cmd);
    return null;
  } catch (e) {
    if (e instanceof TemplateRefused) return e;
    throw e;
  }
}

/** TEMPLATE_RE anchored at a position (lastIndex). */
const TEMPLATE = new RegExp(TEMPLATE_RE.source, 'y');
const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'yash']);
/** Programs that hand the argument of their `-c` to a shell, after arguments of their own. */
const WRAPPERS = new Set(['su', 'runuser', 'flock', 'script']);
const EVALS = new Set(['eval', 'watch', 'parallel']);
const OPERATORS = ';&|()<>\n';
const PH_OPEN = '\uE000';
const PH_CLOSE = '\uE001';

/** The first item template in `text`, if any. */
function itemTemplateIn(text: string): ItemVar | null {
  for (const m of text.matchAll(TEMPLATE_RE)) {
    if ((ITEM_VARS as readonly string[]).includes(m[1])) return m[1] as ItemVar;
  }
  return null;
}

/** Where the simple command being read is: which of its words a shell reads again as a script. */
type Mode = 'plain' | 'shell' | 'wrapper' | 'script-next' | 'script-all' | 'ssh' | 'args';

class Rewriter {
  private i = 0;
  private out = '';
  private mode: Mode = 'plain';
  /** The next word is the argument of a shell's `-o`. */
  private optArg = false;
  private heredocs: Array<{ delim: string; quoted: boolean; tabs: boolean }> = [];

  constructor(private readonly s: string) {}

  script(): string {
    this.commands(null);
    return this.out;
  }

  /** Command context until `end` (`)` of `$(…)`, a backquote) or the end of the text. */
  private commands(end: ')' | '`' | null): void {
    const s = this.s;
    let atWordStart = true;
    let word = '';
    let depth = 0; // subshells `( … )` inside `$( … )`
    const endWord = () => {
      if (!atWordStart) this.wordDone(word);
      atWordStart = true;
      word = '';
    };
    while (this.i < s.length) {
      const c = s[this.i];
      if (c === end && !(c === ')' && depth > 0)) return endWord();
      if (c === ' ' || c === '\t') {
        endWord();
        this.out += c;
        this.i++;
        continue;
      }
      if (c === '#' && atWordStart) {
        const nl = s.indexOf('\n', this.i);
        const stop = nl < 0 ? s.length : nl;
        this.out += s.slice(this.i, stop);
        this.i = stop;
        continue;
      }
      if (OPERATORS.includes(c)) {
        endWord();
        if (s.startsWith('<<<', this.i)) {
          this.copy(3);
          continue;
        }
        if (s.startsWith('<<', this.i)) {
          this.heredocStart();
          continue;
        }
        if (c === '(') depth++;
        else if (c === ')' && depth > 0) depth--;
        this.out += c;
        this.i++;
        if (c === '\n') this.heredocBodies();
        if (c !== '<' && c !== '>') this.newCommand();
        continue;
      }
      if ((this.mode === 'script-next' || this.mode === 'script-all') && atWordStart) {
        this.scriptWord();
        atWordStart = false;
        word = '?';
        continue;
      }
      atWordStart = false;
      if (c === '\\') {
        word += s[this.i + 1] ?? '';
        this.copy(2);
      } else if (c === "'") {
        word += this.singleQuoted();
      } else if (c === '"') {
        word += '"';
        this.doubleQuoted(false);
      } else if (c === '`') {
        word += '`';
        this.backquoted();
      } else if (c === '$') {
        word += '$';
        this.dollar('unquoted');
      } else {
        word += c;
        this.copy(1);
      }
    }
    endWord();
  }

  private newCommand(): void {
    this.mode = 'plain';
    this.optArg = false;
  }

  /** A word of the simple command has ended: does it start a nested shell? */
  private wordDone(word: string): void {
    const w = word.replace(/['"\\]/g, '');
    const base = w.slice(w.lastIndexOf('/') + 1);
    const dashC = /^-[a-zA-Z]*c[a-zA-Z]*$/.test(w) || w === '--command';
    switch (this.mode) {
      case 'plain':
        if (SHELLS.has(base)) this.mode = 'shell';
        else if (WRAPPERS.has(base)) this.mode = 'wrapper';
        else if (EVALS.has(base)) this.mode = 'script-all';
        else if (base === 'ssh') this.mode = 'ssh';
        break;
      case 'shell':
        // `bash -e -o pipefail -c '…'`: options, then the script; a first other word is a script file.
        if (this.optArg) this.optArg = false;
        else if (dashC) this.mode = 'script-next';
        else if (w === '-o' || w === '+o') this.optArg = true;
        else if (!/^[-+]/.test(w)) this.mode = 'args';
        break;
      case 'wrapper':
        if (dashC) this.mode = 'script-next';
        break;
      case 'script-next':
        this.mode = 'args';
        break;
      default:
    }
  }

  private copy(n: number): void {
    this.out += this.s.slice(this.i, this.i + n);
    this.i += n;
  }

  /** A template at `this.i`, if it is one of the item variables. */
  private template(): ItemVar | null {
    TEMPLATE.lastIndex = this.i;
    const m = TEMPLATE.exec(this.s);
    if (!m || !(ITEM_VARS as readonly string[]).includes(m[1])) return null;
    return m[1] as ItemVar;
  }

  private reference(v: ItemVar, quoted: boolean): void {
    if (this.mode === 'ssh') {
      throw new TemplateRefused(`\${${v}} in an ssh command: the remote shell would read the value as code`, `copy the file with scp first, or run dvcl on that machine`);
    }
    this.out += quoted ? `\${${envName(v)}}` : `"\${${envName(v)}}"`;
    this.i += v.length + 3;
  }

  /** `'…'` outside a nested shell's script; returns the literal text. */
  private singleQuoted(): string {
    const end = this.s.indexOf("'", this.i + 1);
    const stop = end < 0 ? this.s.length : end + 1;
    const text = this.s.slice(this.i, stop);
    const v = itemTemplateIn(text);
    if (v) {
      throw new TemplateRefused(
        `\${${v}} inside single quotes: that text goes to another program (awk, sed, python…), which would read a file name as code`,
        `pass it as an argument ("\${${v}}") or read \$${envName(v)} from the environment; for a nested shell write sh -c '… "\${${v}}" …'`,
      );
    }
    this.out += text;
    this.i = stop;
    return text;
  }

  /** `"…"`, or the body of an unquoted here-document (`heredoc`: a `"` is plain text there). */
  private doubleQuoted(heredoc: boolean): void {
    const s = this.s;
    if (!heredoc) this.copy(1);
    while (this.i < s.length) {
      const c = s[this.i];
      if (c === '"' && !heredoc) return this.copy(1);
      if (c === '\\') this.copy(2);
      else if (c === '`') this.backquoted();
      else if (c === '$') this.dollar('quoted');
      else this.copy(1);
    }
  }

  private backquoted(): void {
    this.copy(1);
    const saved = this.saveCommand();
    this.commands('`');
    this.restoreCommand(saved);
    this.copy(1);
  }

  /** `$` at this.i: a template, `$(…)`, `$((…))`, `${…}` or a plain `$name`. */
  private dollar(where: 'quoted' | 'unquoted'): void {
    const s = this.s;
    const v = this.template();
    if (v) return this.reference(v, where === 'quoted');
    if (s.startsWith('$((', this.i)) return this.arithmetic();
    if (s[this.i + 1] === '(') {
      this.copy(2);
      const saved = this.saveCommand();
      this.commands(')');
      this.restoreCommand(saved);
      this.copy(1);
      return;
    }
    if (s[this.i + 1] === '{') {
      // A shell parameter (`${HOME:-…}`): a template inside expands, as in double quotes, to its value.
      this.copy(2);
      let depth = 1;
      while (this.i < s.length && depth > 0) {
        const t = s[this.i] === '$' ? this.template() : null;
        if (t) {
          this.reference(t, true);
          continue;
        }
        if (s[this.i] === '\\') {
          this.copy(2);
          continue;
        }
        if (s[this.i] === '{') depth++;
        else if (s[this.i] === '}') depth--;
        this.copy(1);
      }
      return;
    }
    // `$name`, `$1`, `$?`: the whole parameter, so a script word can keep it outside its quotes.
    const m = /^\$([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])?/.exec(s.slice(this.i, this.i + 256))!;
    this.copy(m[0].length);
  }

  private arithmetic(): void {
    const s = this.s;
    let depth = 0;
    const start = this.i;
    this.i += 1;
    do {
      if (s[this.i] === '(') depth++;
      else if (s[this.i] === ')') depth--;
      this.i++;
    } while (this.i < s.length && depth > 0);
    const text = s.slice(start, this.i);
    const v = itemTemplateIn(text);
    if (v) throw new TemplateRefused(`\${${v}} inside $(( )): arithmetic evaluates the value as an expression`, `read \$${envName(v)} in a program that treats it as text`);
    this.out += text;
  }

  private saveCommand(): [Mode, boolean] {
    const saved: [Mode, boolean] = [this.mode, this.optArg];
    this.newCommand();
    return saved;
  }

  private restoreCommand([mode, optArg]: [Mode, boolean]): void {
    this.mode = mode;
    this.optArg = optArg;
  }

  /**
   * The script a nested shell reads (the word after `sh -c`, or an `eval` argument): taken out of
   * its quotes, rewritten for that shell, and passed single-quoted. What the outer shell expands
   * in it (`$HOME`, `$(…)`) stays outside the single quotes, expanded by the outer shell as before.
   */
  private scriptWord(): void {
    const s = this.s;
    const pieces: string[] = [];
    let inner = '';
    const opaque = (from: number, src: number) => {
      // The outer shell expands this and the nested one reads the result as code: no value may be in it.
      const v = itemTemplateIn(s.slice(src, this.i));
      if (v) {
        throw new TemplateRefused(
          `\${${v}} inside a $( ) or \`…\` that the outer shell expands into the script of a nested shell, which would read the value as code`,
          `put the script in single quotes, so the nested shell runs the $( ): sh -c '… $(cmd "\${${v}}") …'`,
        );
      }
      // Rewritten as the outer shell sees it; kept aside and put back in place after the inner rewrite.
      const text = this.out.slice(from);
      this.out = this.out.slice(0, from);
      inner += `${PH_OPEN}${pieces.length}${PH_CLOSE}`;
      pieces.push(text);
    };
    /** `$…` or a backquote in the word: a template stays for the nested shell; the rest is the outer shell's. */
    const expansion = (quoted: boolean) => {
      const v = s[this.i] === '$' ? this.template() : null;
      if (v) {
        inner += `\${${v}}`;
        this.i += v.length + 3;
        return;
      }
      const from = this.out.length;
      const src = this.i;
      if (quoted) this.out += '"';
      if (s[this.i] === '$') this.dollar(quoted ? 'quoted' : 'unquoted');
      else this.backquoted();
      if (quoted) this.out += '"';
      opaque(from, src);
    };
    while (this.i < s.length) {
      const c = s[this.i];
      if (c === ' ' || c === '\t' || OPERATORS.includes(c)) break;
      if (c === "'") {
        const end = s.indexOf("'", this.i + 1);
        const stop = end < 0 ? s.length : end;
        inner += s.slice(this.i + 1, stop);
        this.i = stop + 1;
      } else if (c === '\\') {
        inner += s[this.i + 1] ?? '';
        this.i += 2;
      } else if (c === '"') {
        this.i++;
        while (this.i < s.length && s[this.i] !== '"') {
          const d = s[this.i];
          if (d === '\\' && '$`"\\\n'.includes(s[this.i + 1])) {
            inner += s[this.i + 1];
            this.i += 2;
          } else if (d === '$' || d === '`') {
            expansion(true);
          } else {
            inner += d;
            this.i++;
          }
        }
        this.i++;
      } else if (c === '$' || c === '`') {
        expansion(false);
      } else {
        inner += c;
        this.i++;
      }
    }
    const rewritten = rewriteCommand(inner);
    const parts = rewritten.split(new RegExp(`${PH_OPEN}(\\d+)${PH_CLOSE}`));
    for (let k = 0; k < parts.length; k++) {
      if (k % 2 === 1) this.out += pieces[Number(parts[k])];
      else if (parts[k]) this.out += `'${parts[k].replace(/'/g, `'\\''`)}'`;
    }
    if (parts.length === 1 && !parts[0]) this.out += "''";
  }

  private heredocStart(): void {
    const s = this.s;
    this.copy(2);
    const tabs = s[this.i] === '-';
    if (tabs) this.copy(1);
    while (s[this.i] === ' ' || s[this.i] === '\t') this.copy(1);
    const start = this.i;
    while (this.i < s.length && !' \t\n;&|()<>'.includes(s[this.i])) this.i++;
    const raw = s.slice(start, this.i);
    this.out += raw;
    this.heredocs.push({ delim: raw.replace(/['"\\]/g, ''), quoted: /['"\\]/.test(raw), tabs });
  }

  /** After a newline: the bodies of the here-documents opened on the line that ended. */
  private heredocBodies(): void {
    const s = this.s;
    for (const h of this.heredocs.splice(0)) {
      let end = this.i;
      for (;;) {
        const nl = s.indexOf('\n', end);
        const line = s.slice(end, nl < 0 ? s.length : nl);
        if ((h.tabs ? line.replace(/^\t+/, '') : line) === h.delim || nl < 0) break;
        end = nl + 1;
      }
      const body = s.slice(this.i, end);
      if (h.quoted) {
        const v = itemTemplateIn(body);
        if (v) throw new TemplateRefused(`\${${v}} in a quoted here-document: that text goes to another program, which would read a file name as code`, `read \$${envName(v)} from the environment instead`);
        this.out += body;
      } else {
        const sub = new Rewriter(body);
        sub.doubleQuoted(true);
        this.out += sub.out;
      }
      this.i = end;
    }
  }
}
