import { describe, expect, it } from 'vitest';
import { canonicalText, exactJson, sameValue, showValue } from '../src/core/util/exact.js';
import { parseLock, sameEntryContent, serializeLock, sortDeep, type LockData, type LockEntry } from '../src/core/ledger/lock.js';
import { mergeTexts } from '../src/core/ledger/merge.js';
import { YamlSource } from '../src/core/config/yaml-source.js';

// Exact params (issue 12.8). End-to-end through status, repro and the lock: params-exact.e2e.test.ts.

/** Values a params file held before: their text, comparison and stage hash must not move. */
const ORDINARY: unknown[] = [
  null, true, false, 0, -0, 1, -3, 0.001, 1.5e-7, 1e21, 9007199254740991, 'x', '', 'résumé "q"\n\u0000\u2028',
  [], {}, [1, 'a', null, [2, [3]]], [undefined, () => 1],
  { b: 1, a: 2, 10: 'ten', 2: 'two', 'a.b': { z: [], y: {} }, u: undefined },
  Object.assign(Object.create(null), { __proto__x: 1, constructor: 2 }),
  { cmd: 'cp ${item} ${out}', wdir: undefined, env: undefined, deps: [['a', 'xxh128:1']], params: { 'params.yaml': { 'train.lr': 0.001, seed: 42 } }, out: 'o/${stem}' },
];

describe('canonicalText', () => {
  it('is JSON.stringify of the key-sorted value for ordinary values (the per-item stage hash is unchanged)', () => {
    for (const v of ORDINARY) expect(canonicalText(v)).toBe(JSON.stringify(sortDeep(v)));
    expect(canonicalText(undefined)).toBeUndefined();
  });
});

describe('sameValue', () => {
  it('tells null, NaN and the infinities apart, and NaN from NaN not', () => {
    const words = [null, NaN, Infinity, -Infinity, 0];
    for (const a of words) for (const b of words) expect(sameValue(a, b)).toBe(Object.is(a, b));
    expect(sameValue({ x: [NaN] }, { x: [NaN] })).toBe(true);
  });

  it('compares integers past 2^53 exactly', () => {
    expect(sameValue(9007199254740993n, 9007199254740992)).toBe(false);
    expect(sameValue(9007199254740993n, 9007199254740993n)).toBe(true);
    // 2^60 is written by JavaScript as 1152921504606847000, which is another integer.
    expect(sameValue(2 ** 60, 1152921504606847000n)).toBe(false);
    expect(sameValue('9007199254740993', 9007199254740993n)).toBe(false);
  });

  it('counts -0 as 0, 1.0 as 1, and key order as nothing', () => {
    expect(sameValue(-0, 0)).toBe(true);
    expect(sameValue({ a: 1, b: { c: 2, d: 3 } }, { b: { d: 3, c: 2 }, a: 1 })).toBe(true);
    const y = YamlSource.parse('p.yaml', 'a: 1.0\nb: 1\n', { exact: true }).toJS() as Record<string, unknown>;
    expect(sameValue(y.a, y.b)).toBe(true);
  });
});

describe('exactJson and showValue', () => {
  it('write ordinary values as JSON.stringify does', () => {
    for (const v of ORDINARY) {
      expect(exactJson(v)).toBe(JSON.stringify(v, null, 2));
      expect(showValue(v)).toBe(JSON.stringify(v));
    }
  });

  it('write a big integer as its digits, NaN and the infinities as YAML does', () => {
    const v = { old: 9007199254740993n, new: [NaN, Infinity, -Infinity] };
    expect(JSON.parse(exactJson(v))).toEqual({ old: 9007199254740992, new: ['.nan', '.inf', '-.inf'] });
    expect(exactJson(v)).toContain('"old": 9007199254740993,');
    expect(showValue(v)).toBe('{"old":9007199254740993,"new":[.nan,.inf,-.inf]}');
  });
});

describe('params files and pipeline.lock', () => {
  it('read an integer a number would round as a BigInt, any other as a number', () => {
    const src = YamlSource.parse('p.json', '{"big": 9007199254740993, "safe": 9007199254740991, "pow": 1152921504606846976, "list": [1, -2]}', { exact: true });
    expect(src.toJS()).toEqual({ big: 9007199254740993n, safe: 9007199254740991, pow: 2 ** 60, list: [1, -2] });
  });

  const lockWith = (params: Record<string, unknown>): LockData => ({
    schema: 1,
    stages: { fit: { cmd: 'fit', deps: [], params: { 'params.yaml': params }, outs: [], git: { commit: null, branch: null, dirty: null }, run: 'r1' } },
  });

  it('writes big integers, NaN and the infinities so that they read back as the same values', () => {
    const params = { big: 9007199254740993n, neg: -123456789012345678901234567890n, pow: 2 ** 60, nan: NaN, inf: Infinity, ninf: -Infinity, n: 3 };
    const text = serializeLock(lockWith(params));
    expect(text).toContain('big: 9007199254740993\n');
    expect(text).toContain('neg: -123456789012345678901234567890\n');
    expect(text).toContain('pow: 1152921504606846976\n');
    expect(text).toContain('nan: .nan\n');
    expect(text).toContain('ninf: -.inf\n');
    const back = parseLock(text).stages.fit.params['params.yaml'];
    for (const [k, v] of Object.entries(params)) expect(sameValue(back[k], v), k).toBe(true);
    expect(parseLock(text).schema).toBe(1);
    expect(serializeLock(parseLock(text))).toBe(text);
  });

  it('survive the merge driver exactly', () => {
    const base = serializeLock(lockWith({ big: 1 }));
    const theirs = serializeLock(lockWith({ big: 9007199254740993n, nan: NaN }));
    const merged = mergeTexts({ base, ours: base, theirs, path: 'pipeline.lock' });
    expect(merged.text).toBe(theirs);
    expect(merged.text).toContain('big: 9007199254740993\n');
  });
});

describe('a lock entry kept when a re-run comes out the same (sameEntryContent)', () => {
  const entry = (lr: unknown, run = 'r1'): LockEntry => ({
    cmd: 'fit', deps: [], params: { 'params.yaml': { lr } }, outs: [], git: { commit: null, branch: null, dirty: null }, run,
  });
  it('tells null, NaN and ±Infinity apart, and ignores the run', () => {
    expect(sameEntryContent(entry(null), entry(NaN))).toBe(false);
    expect(sameEntryContent(entry(Infinity), entry(-Infinity))).toBe(false);
    expect(sameEntryContent(entry(NaN, 'r1'), entry(NaN, 'r2'))).toBe(true);
  });
  it('compares big integers exactly, without throwing', () => {
    expect(sameEntryContent(entry(9007199254740993n), entry(9007199254740992n))).toBe(false);
    expect(sameEntryContent(entry(9007199254740993n), entry(9007199254740993n))).toBe(true);
  });
});
