// pipeline.lock read and written without the yaml library (src/core/ledger/lock-fast.ts): over
// generated entries, every text it writes is the library's, and every lock it reads is what the
// library reads; what it cannot vouch for goes to the library (and most run-written entries do not).
import { describe, expect, it } from 'vitest';
import { rng } from './reliability/support.js';
import { canonicalEntry, parseLock, parseLockWithLibrary, serializeLock, serializeLockWithLibrary, stageBlock, type LockData, type LockEntry } from '../src/core/ledger/lock.js';
import { fastBlock, fastParse } from '../src/core/ledger/lock-fast.js';


const TRICKY = [' ', '&', '|', '>', '<', '$', '{', '}', '(', ')', "'", '"', ':', '#', ',', '[', ']', '.', '/', '-', '_', '=', '%', '@', '!', '*', '?', '\\', '\t', 'é', '~', '^', '`', '+', ': ', ' #', '...', '0x', '1e', '.5'];
const WORDS = ['true', 'false', 'null', 'Null', '~', 'yes', 'no', '123', '08', '1.5', '1e3', '.inf', '.nan', '0o7', '0x1F', '2026-12-03', '1_000', '__proto__', '-1', '+1', '12:30'];

/** `hostile` 1: tricky strings and values everywhere; near 0: mostly what a run writes. */
function generator(seed: number, hostile = 1) {
  const r = rng(seed).next; // the same entries on every run
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const alnum = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./';
  const text = (): string => {
    if (r() < 0.1 * hostile) return pick(WORDS);
    let s = '';
    const n = 1 + Math.floor(r() * 14);
    for (let i = 0; i < n; i++) s += r() < 0.15 * hostile ? pick(TRICKY) : alnum[Math.floor(r() * alnum.length)];
    return r() < 0.05 * hostile ? ` ${s}` : r() < 0.05 * hostile ? `${s} ` : s;
  };
  const hex = (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(r() * 16)]).join('');
  const path = () => (r() < 0.6 ? `data/${hex(4)}.txt` : text());
  const lockPath = () => ({ path: path(), hash: r() < 1 - 0.2 * hostile ? `xxh128:${hex(32)}` : text(), size: r() < 1 - 0.1 * hostile ? Math.floor(r() * 1e6) : 2 ** 53 + 2, ...(r() < 0.2 ? { nfiles: Math.floor(r() * 50) } : {}) });
  const value = (): unknown => {
    const k = r();
    if (k < 0.25) return Math.floor(r() * 2000) - 1000;
    if (k < 0.3) return 12345678901234567890n;
    if (k < 0.4) return pick([true, false, null]);
    if (k < 0.4 + 0.05 * hostile) return r() * 10;
    if (k < 0.4 + 0.1 * hostile) return [1, 'a'];
    if (k < 0.4 + 0.15 * hostile) return { nested: 1 };
    return text();
  };
  const entry = (): LockEntry => {
    const e: Record<string, unknown> = { cmd: r() < 1 - 0.1 * hostile ? (r() < 0.5 ? `cp ${path()} out/${hex(3)}.txt` : text()) : [text(), text()] };
    if (r() < 0.1) e.wdir = text();
    if (r() < 0.05 * hostile) e.env = { A: text() };
    if (r() < 0.1) e.out = r() < 0.5 ? 'out/${stem}.txt' : `out/${text()}`;
    e.deps = Array.from({ length: Math.floor(r() * 3) }, lockPath);
    const params: Record<string, Record<string, unknown>> = {};
    for (let f = Math.floor(r() * 3); f > 0; f--) {
      const vals: Record<string, unknown> = {};
      for (let k = 1 + Math.floor(r() * 3); k > 0; k--) vals[r() < 0.8 ? `k${hex(2)}` : text()] = value();
      params[r() < 0.8 ? 'params.yaml' : text()] = vals;
    }
    e.params = params;
    e.outs = Array.from({ length: Math.floor(r() * 3) }, lockPath);
    if (r() < 0.15) e.items = { count: Math.floor(r() * 1e5), hash: `xxh128:${hex(32)}` };
    e.git = { commit: r() < 1 - 0.2 * hostile ? hex(40) : r() < 0.5 ? null : text(), branch: r() < 1 - 0.4 * hostile ? pick(['main', 'feat/x-1', 'release_2']) : r() < 0.5 ? null : text(), dirty: pick([true, false, null]) };
    e.run = r() < 1 - 0.2 * hostile ? `20261203T${hex(6)}Z-${hex(6)}` : text();
    return e as unknown as LockEntry;
  };
  const name = () => (r() < 1 - 0.2 * hostile ? `s${hex(3)}` : pick(['123', 'a-b', 'x_y', 'true', 'Null']));
  return { entry, name };
}

describe('pipeline.lock without the yaml library', () => {
  it('writes exactly what the library writes, for every entry it takes (and takes most of those a run writes)', () => {
    const [hostile, usual] = [generator(17), generator(18, 0.05)];
    let taken = 0;
    for (let i = 0; i < 4000; i++) {
      const g = i % 2 ? usual : hostile;
      const name = g.name();
      const e = g.entry();
      const library = serializeLockWithLibrary({ schema: 1, stages: { [name]: e } }).slice('schema: 1\nstages:\n'.length);
      expect(stageBlock(name, e), JSON.stringify([name, e], (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))).toBe(library);
      if (g === usual && fastBlock(name, canonicalEntry(e)) !== null) taken++;
    }
    expect(taken).toBeGreaterThan(1500); // of 2,000 usual entries
  });

  it('reads exactly what the library reads, for every lock it takes; a lock it does not take goes to the library', () => {
    const [hostile, usual] = [generator(29), generator(30, 0.05)];
    let taken = 0;
    for (let i = 0; i < 2000; i++) {
      const g = i % 2 ? usual : hostile;
      const data: LockData = { schema: 1, stages: {} };
      for (let k = 1 + (i % 2); k > 0; k--) data.stages[g.name()] = g.entry();
      const text = serializeLockWithLibrary(data);
      const library = parseLockWithLibrary(text);
      expect(parseLock(text), text).toEqual(library);
      if (g === usual && fastParse(text) !== null) taken++;
    }
    expect(taken).toBeGreaterThan(700); // of 1,000 usual locks
  });

  it('a run\'s lock, and the same lock edited by hand (a comment, quotes, CRLF, a duplicate stage): read as the library reads it', () => {
    const g = generator(3);
    const data: LockData = { schema: 1, stages: {} };
    for (const n of ['prepare', 'train', 'report']) {
      let e = g.entry();
      while (fastBlock(n, canonicalEntry(e)) === null) e = g.entry();
      data.stages[n] = e;
    }
    const text = serializeLock(data);
    expect(text).toBe(serializeLockWithLibrary(data));
    expect(fastParse(text)).not.toBeNull();
    expect(parseLock(text)).toEqual(parseLockWithLibrary(text));
    const edits = [
      text.replace('stages:\n', 'stages:\n  # a note\n'),
      text.replace(/run: (\S+)/, 'run: "$1"'),
      text.replace(/\n/g, '\r\n'),
      text.replace(/cmd: /, 'cmd:  '),
    ];
    for (const t of edits) {
      expect(fastParse(t), t).toBeNull();
      expect(parseLock(t)).toEqual(parseLockWithLibrary(t));
    }
    const twice = `${text}${text.slice('schema: 1\nstages:\n'.length)}`;
    expect(fastParse(twice)).toBeNull();
    expect(() => parseLock(twice)).toThrow(/pipeline\.lock/);
  });
});
