import { isMap, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair } from 'yaml';
import { configError, type DvclError } from './errors.js';

export type KeyPath = (string | number)[];

/** `['stages', 'x', 'deps', 1]` → `stages.x.deps[1]`. */
export function formatKeyPath(p: KeyPath): string {
  return p.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

/**
 * A parsed YAML file that remembers where every node came from, so a validation issue found on
 * the plain JS value can be reported as `file:line:col`.
 */
export class YamlSource {
  readonly file: string;
  readonly doc: Document;
  private readonly lines = new LineCounter();

  private constructor(file: string, text: string) {
    this.file = file;
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
  }

  /** Parse; a YAML syntax error becomes a DvclError at its position. */
  static parse(file: string, text: string): YamlSource {
    const src = new YamlSource(file, text);
    const err = src.doc.errors[0];
    if (err) {
      // The parser points at the start of a badly indented line; the user looks for the token.
      let at = err.pos[0];
      if (src.lines.linePos(at).col === 1) while (text[at] === ' ') at++;
      const pos = src.lines.linePos(at);
      const msg = err.message.split('\n')[0].replace(/ at line \d+, column \d+.*$/, '');
      throw configError(file, pos, '', `invalid YAML: ${msg}`);
    }
    return src;
  }

  toJS(): unknown {
    return this.doc.toJS({ maxAliasCount: 100 });
  }

  /** Position of the value at `path` (or of its key, for "unknown key" errors). */
  pos(path: KeyPath, which: 'value' | 'key' = 'value'): { line: number; col: number } | null {
    let node: unknown = this.doc.contents;
    let found: Node | null = (node as Node) ?? null;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = (node.items as Pair[]).find((p) => keyOf(p) === String(seg));
        if (!pair) break;
        found = (last && which === 'key' ? pair.key : pair.value ?? pair.key) as Node;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
        if (!node) break;
        found = node as Node;
      } else break;
    }
    const offset = found?.range?.[0];
    return offset === undefined ? null : this.lines.linePos(offset);
  }

  error(path: KeyPath, message: string, hint?: string, which: 'value' | 'key' = 'value'): DvclError {
    return configError(this.file, this.pos(path, which), formatKeyPath(path), message, hint);
  }
}

function keyOf(p: Pair): string {
  const k = p.key as { value?: unknown } | null;
  return k && typeof k === 'object' && 'value' in k ? String(k.value) : String(k);
}
