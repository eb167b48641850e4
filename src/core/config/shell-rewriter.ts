// The shell scanner behind command templates: reads a command as sh would, rewriting each item template.
import { ITEM_VARS, TEMPLATE_RE, type ItemVar } from '../template.js';
import { CommandWords } from './command-words.js';
import { scriptWord, type OuterShell } from './nested-script.js';
import { envName, itemTemplateIn, OPERATORS, TemplateRefused } from './shell-text.js';

const TEMPLATE = new RegExp(TEMPLATE_RE.source, 'y');

/** Rewrites one command text, start to end (see command-template.ts for what and why). */
export class Rewriter implements OuterShell {
  i = 0;
  out = '';
  private readonly words = new CommandWords();
  private heredocs: Array<{ delim: string; quoted: boolean; tabs: boolean }> = [];

  constructor(readonly s: string) {}

  script(): string {
    this.commands(null);
    return this.out;
  }

  rewrite(script: string): string {
    return new Rewriter(script).script();
  }

  /** Command context until `end` (`)` of `$(…)`, a backquote) or the end of the text. */
  private commands(end: ')' | '`' | null): void {
    const s = this.s;
    let atWordStart = true;
    let word = '';
    let depth = 0; // subshells `( … )` inside `$( … )`
    const endWord = () => {
      if (!atWordStart) this.words.wordDone(word);
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
        if (c !== '<' && c !== '>') this.words.newCommand();
        continue;
      }
      if ((this.words.mode === 'script-next' || this.words.mode === 'script-all') && atWordStart) {
        scriptWord(this);
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

  private copy(n: number): void {
    this.out += this.s.slice(this.i, this.i + n);
    this.i += n;
  }

  template(): ItemVar | null {
    TEMPLATE.lastIndex = this.i;
    const m = TEMPLATE.exec(this.s);
    if (!m || !(ITEM_VARS as readonly string[]).includes(m[1])) return null;
    return m[1] as ItemVar;
  }

  private reference(v: ItemVar, quoted: boolean): void {
    if (this.words.mode === 'ssh') {
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

  backquoted(): void {
    this.copy(1);
    const saved = this.words.save();
    this.commands('`');
    this.words.restore(saved);
    this.copy(1);
  }

  /** `$` at this.i: a template, `$(…)`, `$((…))`, `${…}` or a plain `$name`. */
  dollar(where: 'quoted' | 'unquoted'): void {
    const s = this.s;
    const v = this.template();
    if (v) return this.reference(v, where === 'quoted');
    if (s.startsWith('$((', this.i)) return this.arithmetic();
    if (s[this.i + 1] === '(') {
      this.copy(2);
      const saved = this.words.save();
      this.commands(')');
      this.words.restore(saved);
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
