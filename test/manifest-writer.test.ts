// .manifest.json is written in pieces (manifest-format.ts writeManifest) instead of as one string of a
// sorted copy: the bytes must be the canonical text as defined before, for any content.
import { describe, expect, it } from 'vitest';
import { rng } from './reliability/support.js';
import { serializeManifest, writeManifest, type ManifestData } from '../src/core/ledger/manifest-format.js';

/** The definition (the writer of stop 25 for documents with integer-like keys, which was right for all). */
function reference(data: unknown): string {
  const parts: string[] = [];
  const write = (v: unknown, indent: string): void => {
    if (v === null || typeof v !== 'object') {
      parts.push(JSON.stringify(v) ?? 'null');
      return;
    }
    const inner = indent + '  ';
    const entries: [string | null, unknown][] = Array.isArray(v)
      ? v.map((x) => [null, x])
      : Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => [k, (v as Record<string, unknown>)[k]]);
    const [open, close] = Array.isArray(v) ? ['[', ']'] : ['{', '}'];
    if (entries.length === 0) { parts.push(open + close); return; }
    parts.push(open);
    entries.forEach(([k, x], i) => {
      parts.push((i ? ',\n' : '\n') + inner + (k === null ? '' : JSON.stringify(k) + ': '));
      write(x, inner);
    });
    parts.push('\n' + indent + close);
  };
  write(data, '');
  return parts.join('') + '\n';
}


function manifest(seed: number, items: number): ManifestData {
  const r = rng(seed).next; // the same entries on every run
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const key = () => pick(['in/a.txt', '42', '7', '__proto__', 'constructor', 'é/ü.txt', 'a"b\\c', 'line\nbreak', '', '0', '01', `in/${Math.floor(r() * 1e6)}.txt`]);
  const dict = () => Object.create(null) as Record<string, unknown>;
  const rec = () => {
    const o: Record<string, unknown> = { status: pick(['success', 'failed']), hash: 'xxh128:00ff', attempts: Math.floor(r() * 3), run: 'r1' };
    if (r() < 0.7) o.output = key();
    if (r() < 0.3) o.reason = pick(['exit code 1: boom\nline 2', 'killed by SIGKILL', '\u0000 nul']);
    if (r() < 0.2) o.extra_from_a_newer_dvcl = pick([[1, 'x', null], { nested: { deep: [1, { a: 2 }] } }, [{ z: 1, a: [{ y: 2, b: 3 }] }, 'x'], undefined, 3.5, true]);
    if (r() < 0.1) o['9'] = 'integer-like field';
    return o;
  };
  const stages = dict();
  for (let s = 0; s < 3; s++) {
    const st: Record<string, unknown> = { status: 'success', run: 'r1' };
    if (r() < 0.8) {
      const it = dict();
      for (let i = 0; i < items; i++) it[r() < 0.9 ? `in/${String(i).padStart(6, '0')}.txt` : key()] = rec();
      st.items = it;
    }
    if (r() < 0.3) st.items = dict();
    stages[pick(['prepare', 'extract', '12', 'z'])] = st;
  }
  const runs = dict();
  runs.r1 = { argv: ['repro', '-j', '2'], dvcl: '0.1.0', started_at: 't', finished_at: null, git_branch: null, git_commit: 'c', git_dirty: false, host: 'h', node: 'v20', platform: 'linux-x64', user: null };
  const data = { version: 1, stages, runs } as Record<string, unknown>;
  if (r() < 0.3) data.future_top_level = { a: [{ b: 1 }] };
  return data as unknown as ManifestData;
}

/** Equal, or where they first differ (a diff of megabytes of text would take the runner minutes). */
function firstDifference(a: string, b: string): string | null {
  if (a === b) return null;
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return `at ${i}: ${JSON.stringify(a.slice(Math.max(0, i - 40), i + 40))} vs ${JSON.stringify(b.slice(Math.max(0, i - 40), i + 40))}`;
}

describe('the manifest writer', () => {
  it('writes the canonical text byte for byte, whatever the keys and values', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const m = manifest(seed, 1 + (seed % 40));
      expect(firstDifference(serializeManifest(m), reference(m)), `seed ${seed}`).toBeNull();
    }
  });

  it('hands a large manifest over in pieces of about a megabyte, never the whole text at once', () => {
    const m = manifest(7, 20_000);
    const pieces: string[] = [];
    writeManifest(m, (p) => pieces.push(p));
    expect(firstDifference(pieces.join(''), reference(m))).toBeNull();
    expect(pieces.length).toBeGreaterThan(4);
    expect(Math.max(...pieces.map((p) => p.length))).toBeLessThan(1.1 * (1 << 20));
  });
});
