import fs from 'node:fs';
import path from 'node:path';
import { isCollection, isMap, isSeq, LineCounter, parseDocument, visit, type Document, type Node, type Pair } from 'yaml';
import { configError, type DvclError } from '../errors.js';
import { exactInteger } from '../util/exact.js';

export type KeyPath = (string | number)[];

export interface YamlProblem { pos: { line: number; col: number } | null; message: string }

export function formatKeyPath(p: KeyPath): string {
  return p.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

/** Remembers where every node came from, so an issue found on the plain JS value is reported as `file:line:col`. */
export class YamlSource {
  readonly file: string;
  readonly doc: Document;
  private readonly lines = new LineCounter();
  private readonly exact: boolean;

  private constructor(file: string, text: string, exact: boolean) {
    this.file = file;
    this.exact = exact;
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true, logLevel: 'error', intAsBigInt: exact });
  }

  /** `exact` (params files, pipeline.lock): an integer a number would round (9007199254740993) becomes a BigInt. */
  static parse(file: string, text: string, opts: { exact?: boolean } = {}): YamlSource {
    const r = YamlSource.check(file, text, opts);
    if (r instanceof YamlSource) return r;
    throw configError(file, r.pos, '', `invalid YAML: ${r.message}`);
  }

  /** Returns the problem instead of throwing: pipeline.lock reports it as damaged state, not configuration. */
  static check(file: string, text: string, opts: { exact?: boolean } = {}): YamlSource | YamlProblem {
    const src = new YamlSource(file, text, opts.exact ?? false);
    const err = src.doc.errors[0];
    if (err) {
      // Where the parser ran out of stack depends on the stack, not on the file: no position.
      if (/call stack/i.test(err.message)) return { pos: null, message: 'nested too deeply' };
      // The parser points at the start of a badly indented line; the user looks for the token.
      let at = err.pos[0];
      if (src.lines.linePos(at).col === 1) while (text[at] === ' ') at++;
      return { pos: src.lines.linePos(at), message: err.message.split('\n')[0].replace(/ at line \d+, column \d+.*$/, '') };
    }
    // A collection as a key (`? [a]: x`) becomes its YAML text in JS, quadratic in its depth, and
    // is never a valid name here anyway.
    let problem: YamlProblem | null = null;
    visit(src.doc, {
      Pair: (_key, pair) => {
        if (!isCollection(pair.key)) return undefined;
        const at = (pair.key as Node).range?.[0];
        problem = { pos: at === undefined ? null : src.lines.linePos(at), message: 'a key must be a name, not a list or a mapping' };
        return visit.BREAK;
      },
    });
    return problem ?? src;
  }

  toJS(): unknown {
    const v = this.value();
    if (v.ok) return v.value;
    throw configError(this.file, v.problem.pos, '', `invalid YAML: ${v.problem.message}`);
  }

  value(): { ok: true; value: unknown } | { ok: false; problem: YamlProblem } {
    try {
      // maxAliasCount bounds an alias bomb (billion laughs): it fails here at once, in little memory.
      return { ok: true, value: this.doc.toJS({ maxAliasCount: 100, ...(this.exact ? { reviver: exactInteger } : {}) }) };
    } catch (e) {
      // Parsing accepts an alias to an unknown anchor, and an alias bomb; resolving them fails here.
      if (e instanceof RangeError) return { ok: false, problem: { pos: null, message: 'nested too deeply' } };
      return { ok: false, problem: { pos: this.unresolvedAliasPos(), message: (e as Error).message } };
    }
  }

  private unresolvedAliasPos(): { line: number; col: number } | null {
    let at: number | undefined;
    visit(this.doc, {
      Alias: (_key, node) => {
        if (node.resolve(this.doc) !== undefined) return undefined;
        at = node.range?.[0];
        return visit.BREAK;
      },
    });
    return at === undefined ? null : this.lines.linePos(at);
  }

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

export function readYaml(root: string, name: string, opts: { exact?: boolean } = {}): YamlSource {
  let text: string;
  try {
    text = fs.readFileSync(path.join(root, name), 'utf8');
  } catch (e) {
    throw configError(name, null, '', `cannot read: ${(e as Error).message}`);
  }
  return YamlSource.parse(name, text, opts);
}
