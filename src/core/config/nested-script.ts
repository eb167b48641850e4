// The script a nested shell reads (the word after `sh -c`, an `eval` argument): taken out of its
// quotes, rewritten for that shell, and passed single-quoted. What the outer shell expands in it
// (`$HOME`, `$(…)`) stays outside the single quotes, expanded by the outer shell as before.
import type { ItemVar } from '../template.js';
import { itemTemplateIn, OPERATORS, TemplateRefused } from './shell-text.js';

const PH_OPEN = '\uE000';
const PH_CLOSE = '\uE001';

/** The outer scanner's cursor, and its rewrite for the script itself (passed in: no import cycle). */
export interface OuterShell {
  readonly s: string;
  i: number;
  out: string;
  template(): ItemVar | null;
  dollar(where: 'quoted' | 'unquoted'): void;
  backquoted(): void;
  rewrite(script: string): string;
}

export function scriptWord(o: OuterShell): void {
  const s = o.s;
  const pieces: string[] = [];
  let inner = '';
  const opaque = (from: number, src: number) => {
    // The outer shell expands this and the nested one reads the result as code: no value may be in it.
    const v = itemTemplateIn(s.slice(src, o.i));
    if (v) {
      throw new TemplateRefused(
        `\${${v}} inside a $( ) or \`…\` that the outer shell expands into the script of a nested shell, which would read the value as code`,
        `put the script in single quotes, so the nested shell runs the $( ): sh -c '… $(cmd "\${${v}}") …'`,
      );
    }
    // Rewritten as the outer shell sees it; kept aside and put back in place after the inner rewrite.
    const text = o.out.slice(from);
    o.out = o.out.slice(0, from);
    inner += `${PH_OPEN}${pieces.length}${PH_CLOSE}`;
    pieces.push(text);
  };
  // A template stays for the nested shell; any other `$…` or backquote is the outer shell's.
  const expansion = (quoted: boolean) => {
    const v = s[o.i] === '$' ? o.template() : null;
    if (v) {
      inner += `\${${v}}`;
      o.i += v.length + 3;
      return;
    }
    const from = o.out.length;
    const src = o.i;
    if (quoted) o.out += '"';
    if (s[o.i] === '$') o.dollar(quoted ? 'quoted' : 'unquoted');
    else o.backquoted();
    if (quoted) o.out += '"';
    opaque(from, src);
  };
  while (o.i < s.length) {
    const c = s[o.i];
    if (c === ' ' || c === '\t' || OPERATORS.includes(c)) break;
    if (c === "'") {
      const end = s.indexOf("'", o.i + 1);
      const stop = end < 0 ? s.length : end;
      inner += s.slice(o.i + 1, stop);
      o.i = stop + 1;
    } else if (c === '\\') {
      inner += s[o.i + 1] ?? '';
      o.i += 2;
    } else if (c === '"') {
      o.i++;
      while (o.i < s.length && s[o.i] !== '"') {
        const d = s[o.i];
        if (d === '\\' && '$`"\\\n'.includes(s[o.i + 1])) {
          inner += s[o.i + 1];
          o.i += 2;
        } else if (d === '$' || d === '`') {
          expansion(true);
        } else {
          inner += d;
          o.i++;
        }
      }
      o.i++;
    } else if (c === '$' || c === '`') {
      expansion(false);
    } else {
      inner += c;
      o.i++;
    }
  }
  const parts = o.rewrite(inner).split(new RegExp(`${PH_OPEN}(\\d+)${PH_CLOSE}`));
  for (let k = 0; k < parts.length; k++) {
    if (k % 2 === 1) o.out += pieces[Number(parts[k])];
    else if (parts[k]) o.out += `'${parts[k].replace(/'/g, `'\\''`)}'`;
  }
  if (parts.length === 1 && !parts[0]) o.out += "''";
}
