// The stat cache's file: its text format, and the loaded file searched in place.
import type { HashAlgorithm } from './algorithms.js';
import { SETTLED_AFTER } from '../util/racy-clean.js';

/*
 * The stat cache file, `<stateDir>/cache/stat-<algo>`, is text:
 *   dvcl-stat-cache\t1\t<algo>\t<savedAtNs>\t<count>\n
 *   <path>\t<size>\t<mtimeNs>\t<ino>\t<ctimeNs>\t<hex>\n      (count lines)
 * with the path JSON-quoted when it holds a tab or newline or starts with a quote. Times are ns
 * decimals (they exceed 2^53). In memory an entry stays the text after the path, compared against
 * the present stat as text: no JSON.parse of 100k arrays (measured ~3x faster), and unchanged
 * entries are written back as they were read. Entries loaded from the file stay places in its text
 * (see LoadedCache) until this run replaces them.
 */
export const CACHE_MAGIC = 'dvcl-stat-cache\t1';
/** States of a line of the loaded stat cache (LoadedCache.state); 0: not looked up in this run. */
export const LOOKED_UP = 1;
export const GONE = 2;
/**
 * The stat cache file as loaded: its text, where each line's path and entry are, and per line
 * whether this run looked it up or replaced it; no string per line. A status over 100,000 items
 * looks up 200,000 paths, mostly in the order they were saved: the line after the last one found
 * is tried first, compared in place; other paths are found through a table of line numbers by a
 * hash of the path. With a Map of the paths to entry strings and a Set of the paths looked up,
 * loading 200,000 entries took ~105 ms instead of ~65, and looking them up ~0.95 s instead of
 * ~0.65 s (~0.43 s of which are the stat calls themselves).
 */
export class LoadedCache {
  /** Lines not GONE: the entries. */
  size = 0;
  /** Per line: 0, LOOKED_UP, or GONE when its path has another entry (or none, or a later line). */
  readonly state: Uint8Array;
  /** settled(ctime, savedAt) is true below this without computing it: its first test, once. */
  readonly settledBefore: bigint;
  /** Hashes of the paths (hashChars), by line. */
  private readonly hashes: Int32Array;
  /** Open addressing by path hash: a path's last line + 1; 0 when free. */
  private readonly index: Int32Array;
  /** The line after the last one found: the first candidate for the next lookup. */
  private next = 0;

  private constructor(
    private readonly text: string,
    /** When it was saved; its entries are checked against it once (racy-clean). */
    readonly savedAt: bigint,
    /** Where line 0 starts. */
    private readonly first: number,
    /** Where each line's entry starts (after its path and a tab) and ends (at a newline). */
    private readonly starts: number[],
    private readonly ends: number[],
    /** The paths JSON-quoted in the file, by line. */
    private readonly quoted: Map<number, string>,
  ) {
    this.state = new Uint8Array(starts.length);
    this.settledBefore = savedAt - SETTLED_AFTER;
    this.hashes = new Int32Array(starts.length);
    let size = 2;
    while (size < starts.length * 2) size *= 2;
    this.index = new Int32Array(size);
  }

  /** The text of a cache file, or null when it is not one dvcl wrote for this algorithm (or is torn). */
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

  /** The line of `rel` (not GONE), or -1. */
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

  /**
   * Where the hex of line n starts when its entry is `${size}\t${mtime}\t${ino}\t${ctime}\t${hex}`
   * with a hex of hexLength characters; otherwise -1. Compared in place, field by field (startsWith
   * of one concatenated key would compare it character by character, not as one block).
   */
  match(n: number, size: string, mtime: string, ino: string, ctime: string, hexLength: number): number {
    let p = this.starts[n];
    if ((p = afterField(this.text, p, size)) < 0 || (p = afterField(this.text, p, mtime)) < 0) return -1;
    if ((p = afterField(this.text, p, ino)) < 0 || (p = afterField(this.text, p, ctime)) < 0) return -1;
    return this.ends[n] - p === hexLength ? p : -1;
  }

  slice(from: number, to: number): string {
    return this.text.slice(from, to);
  }

  /** The entry of line n: the text after its path. */
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

  /** Line n's path now has another entry, or none. */
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

  /**
   * Fills the index; a path on several lines is the last one's (as Map.set would have it), the
   * others are GONE. Returns the number of paths: the count the file's header must give.
   */
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

/** FNV-1a of the UTF-16 code units of s from `from` to `to`. */
function hashChars(s: string, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

/** Where the field after `field` and its tab starts, when `text` has them at `pos`; otherwise -1. */
function afterField(text: string, pos: number, field: string): number {
  return text.startsWith(field, pos) && text.charCodeAt(pos + field.length) === 0x09 ? pos + field.length + 1 : -1;
}
