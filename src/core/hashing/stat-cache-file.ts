// The stat cache's file: its text format, and the loaded file searched in place.
import type { HashAlgorithm } from './algorithms.js';
import { SETTLED_AFTER } from '../util/racy-clean.js';

// `<stateDir>/cache/stat-<algo>`: a header `dvcl-stat-cache\t1\t<algo>\t<savedAtNs>\t<count>`, then count lines
// `<path>\t<size>\t<mtimeNs>\t<ino>\t<ctimeNs>\t<hex>` (path JSON-quoted when it holds a tab, newline or leading
// quote). Entries stay text, compared with the stat as text (measurably faster than JSON.parse).
export const CACHE_MAGIC = 'dvcl-stat-cache\t1';
export const LOOKED_UP = 1;
export const GONE = 2;
// Searched in place, no string per line: lookups come mostly in saved order, so the next line is tried first.
export class LoadedCache {
  size = 0;
  readonly state: Uint8Array;
  /** settled(ctime, savedAt) is true below this without computing it: its first test, once. */
  readonly settledBefore: bigint;
  private readonly hashes: Int32Array;
  private readonly index: Int32Array;
  private next = 0;

  private constructor(
    private readonly text: string,
    readonly savedAt: bigint,
    private readonly first: number,
    private readonly starts: number[],
    private readonly ends: number[],
    private readonly quoted: Map<number, string>,
  ) {
    this.state = new Uint8Array(starts.length);
    this.settledBefore = savedAt - SETTLED_AFTER;
    this.hashes = new Int32Array(starts.length);
    let size = 2;
    while (size < starts.length * 2) size *= 2;
    this.index = new Int32Array(size);
  }

  static parse(text: string, algorithm: HashAlgorithm): LoadedCache | null {
    let pos = text.indexOf('\n') + 1;
    const head = text.slice(0, pos - 1).split('\t');
    if (pos === 0 || `${head[0]}\t${head[1]}` !== CACHE_MAGIC || head[2] !== algorithm) return null;
    if (!/^\d+$/.test(head[3] ?? '') || !/^\d+$/.test(head[4] ?? '')) return null;
    const first = pos;
    const starts: number[] = [];
    const ends: number[] = [];
    const quoted = new Map<number, string>();
    try {
      while (pos < text.length) {
        const eol = text.indexOf('\n', pos);
        const tab = text.indexOf('\t', pos);
        if (eol < 0 || tab < 0 || tab > eol) return null;
        if (text.charCodeAt(pos) === 0x22) quoted.set(starts.length, JSON.parse(text.slice(pos, tab)) as string);
        starts.push(tab + 1);
        ends.push(eol);
        pos = eol + 1;
      }
    } catch {
      return null; // a quoted path that is not JSON
    }
    const c = new LoadedCache(text, BigInt(head[3]), first, starts, ends, quoted);
    return c.indexPaths() === Number(head[4]) ? c : null;
  }

  get lines(): number {
    return this.starts.length;
  }

  find(rel: string): number {
    const n = this.next;
    if (n < this.starts.length && this.state[n] !== GONE) {
      const start = this.pathStart(n);
      // A quoted path (a `"` first) is never the same text as its path.
      if (this.starts[n] - 1 - start === rel.length && this.text.charCodeAt(start) !== 0x22 && this.text.startsWith(rel, start)) {
        this.next = n + 1;
        return n;
      }
    }
    const h = hashChars(rel, 0, rel.length);
    const mask = this.index.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const m = this.index[i] - 1;
      if (m < 0) return -1;
      if (this.hashes[m] === h && this.isPath(m, rel)) {
        if (this.state[m] === GONE) return -1;
        this.next = m + 1;
        return m;
      }
    }
  }

  match(n: number, size: string, mtime: string, ino: string, ctime: string, hexLength: number): number {
    let p = this.starts[n];
    if ((p = afterField(this.text, p, size)) < 0 || (p = afterField(this.text, p, mtime)) < 0) return -1;
    if ((p = afterField(this.text, p, ino)) < 0 || (p = afterField(this.text, p, ctime)) < 0) return -1;
    return this.ends[n] - p === hexLength ? p : -1;
  }

  slice(from: number, to: number): string {
    return this.text.slice(from, to);
  }

  entry(n: number): string {
    return this.text.slice(this.starts[n], this.ends[n]);
  }

  path(n: number): string {
    return this.quoted.get(n) ?? this.text.slice(this.pathStart(n), this.starts[n] - 1);
  }

  pathStartsWith(n: number, prefix: string): boolean {
    const quoted = this.quoted.get(n);
    if (quoted !== undefined) return quoted.startsWith(prefix);
    const start = this.pathStart(n);
    return this.starts[n] - 1 - start >= prefix.length && this.text.startsWith(prefix, start);
  }

  drop(n: number): void {
    if (this.state[n] === GONE) return;
    this.state[n] = GONE;
    this.size--;
  }

  private pathStart(n: number): number {
    return n === 0 ? this.first : this.ends[n - 1] + 1;
  }

  private isPath(n: number, rel: string): boolean {
    const quoted = this.quoted.get(n);
    if (quoted !== undefined) return quoted === rel;
    const start = this.pathStart(n);
    return this.starts[n] - 1 - start === rel.length && this.text.startsWith(rel, start);
  }

  /** A path on several lines is the last one's (as Map.set), the others GONE. Returns the header's count. */
  private indexPaths(): number {
    const mask = this.index.length - 1;
    for (let n = 0; n < this.starts.length; n++) {
      const quoted = this.quoted.get(n);
      const h = quoted === undefined ? hashChars(this.text, this.pathStart(n), this.starts[n] - 1) : hashChars(quoted, 0, quoted.length);
      this.hashes[n] = h;
      for (let i = h & mask; ; i = (i + 1) & mask) {
        const m = this.index[i] - 1;
        if (m >= 0 && (this.hashes[m] !== h || !this.isPath(m, this.path(n)))) continue;
        if (m >= 0) this.state[m] = GONE;
        else this.size++;
        this.index[i] = n + 1;
        break;
      }
    }
    return this.size;
  }
}

function hashChars(s: string, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

function afterField(text: string, pos: number, field: string): number {
  return text.startsWith(field, pos) && text.charCodeAt(pos + field.length) === 0x09 ? pos + field.length + 1 : -1;
}
