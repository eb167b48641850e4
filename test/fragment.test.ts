// Folding shards' ledger fragments (gather's pure part): order does not matter, a success beats a
// failure of the same input, and otherwise the later record wins as in the merge driver.
import { describe, expect, it } from 'vitest';
import { commitOfKey, foldFragments, fragmentKey, groupByInputs, parseFragment, serializeFragment, type Fragment } from '../src/core/ledger/fragment.js';
import type { ItemRecord } from '../src/core/ledger/manifest-format.js';

const COMMIT = 'a'.repeat(40);
const rec = (status: 'success' | 'failed', at: string, run: string, hash = 'sha256:11'): ItemRecord => ({
  status, hash, stage_hash: 'sha256:ss', attempts: 1, ...(status === 'success' ? { output: 'o', output_hash: 'sha256:22', last_processed: at } : { last_attempt: at, reason: 'exit 1' }), run,
});
const run = { argv: ['repro'], dvcl: '0.1.0', started_at: '2026-01-01T00:00:00Z', git_branch: null, git_commit: COMMIT, git_dirty: false, host: 'h', node: 'v20', platform: 'linux-x64', user: null };

function frag(index: number, attempt: string, items: Record<string, ItemRecord>, present?: [string, string][]): Fragment {
  const runs = Object.fromEntries(Object.values(items).map((r) => [r.run, run]));
  return {
    version: 1, commit: COMMIT, stage: 'extract', stage_key: 'sha256:ss', items_set: 'sha256:set', items_total: 3, shard: { index, count: 2 }, attempt, seq: 0,
    entry: { cmd: ['x'], deps: [], params: {}, out: 'o', git: { commit: COMMIT, branch: null, dirty: false } }, ...(present ? { present } : {}), items, runs,
  };
}

describe('foldFragments', () => {
  it('gives the same records whatever the order of the fragments, and lists the union of the shards\' items', () => {
    const f1 = frag(1, 'aaaaaaaaaaaa', { a: rec('success', '2026-01-01T00:00:01Z', 'r1'), b: rec('failed', '2026-01-01T00:00:02Z', 'r1') }, [['a', 'sha256:11'], ['b', 'sha256:11']]);
    const f2 = frag(2, 'bbbbbbbbbbbb', { c: rec('success', '2026-01-01T00:00:03Z', 'r2') }, [['c', 'sha256:11']]);
    const f3 = frag(1, 'cccccccccccc', { b: rec('success', '2026-01-01T00:00:01Z', 'r3') });
    const one = foldFragments({}, [f1, f2, f3]);
    const other = foldFragments({}, [f3, f2, f1]);
    expect(other.changed).toEqual(one.changed);
    // b failed in one attempt and succeeded (earlier) in another worker of the same shard: the success stays.
    expect(one.changed.b.status).toBe('success');
    expect([...one.present.keys()].sort()).toEqual(['a', 'b', 'c']);
    expect(one.shards).toEqual([1, 2]);
    expect(Object.keys(one.runs).sort()).toEqual(['r1', 'r2', 'r3']);
  });

  it('picks the same record in every order when a failure, a success of the same input and another input meet', () => {
    // The latest is a failure of input 11; a success of input 11 beats it; input 22's success is older than the failure.
    const frags = [
      frag(1, 'a1', { x: rec('success', '2026-01-01T00:00:01Z', 'r1') }),
      frag(1, 'a2', { x: rec('failed', '2026-01-01T00:00:03Z', 'r2') }),
      frag(1, 'a3', { x: rec('success', '2026-01-01T00:00:02Z', 'r3', 'sha256:22') }),
    ];
    const orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
    const got = orders.map((o) => foldFragments({}, o.map((i) => frags[i])).changed.x);
    for (const g of got) expect(g).toEqual(frags[0].items.x);
  });

  it('keeps a record that is already there unchanged, and takes the later of two records of different inputs', () => {
    const had = rec('success', '2026-01-01T00:00:00Z', 'r0', 'sha256:00');
    const newer = rec('success', '2026-01-02T00:00:00Z', 'r1', 'sha256:11');
    expect(foldFragments({ a: had }, [frag(1, 'a1', { a: had })]).changed).toEqual({});
    expect(foldFragments({ a: had }, [frag(1, 'a1', { a: newer })]).changed.a).toEqual(newer);
    expect(foldFragments({ a: newer }, [frag(1, 'a1', { a: had })]).changed).toEqual({});
  });
});

describe('fragment files', () => {
  it('round-trips, names its commit in its key, and a damaged one is an error naming the key', () => {
    const f = frag(2, '0123456789ab', { a: rec('success', '2026-01-01T00:00:01Z', 'r1') }, [['a', 'sha256:11']]);
    const key = fragmentKey(f);
    expect(key).toBe(`dvcl/v1/fragments/extract/${COMMIT}/2of2-0123456789ab-000000.json`);
    expect(commitOfKey('extract', key)).toBe(COMMIT);
    expect(commitOfKey('extract', 'dvcl/v1/fragments/extract/notacommit/x.json')).toBeNull();
    expect(parseFragment(serializeFragment(f), key)).toEqual(f);
    expect(() => parseFragment(serializeFragment(f).slice(0, 40), key)).toThrow(`fragment ${key}: not JSON`);
    expect(() => parseFragment(JSON.stringify({ ...f, items: { a: { status: 'maybe' } } }), key)).toThrow(key);
  });

  it('groups fragments by the inputs they ran over', () => {
    const f = frag(1, 'a', {});
    expect(groupByInputs([{ key: 'k1', frag: f }, { key: 'k2', frag: { ...f, stage_key: 'sha256:other' } }, { key: 'k0', frag: f }]).map((g) => g.keys)).toEqual([['k0', 'k1'], ['k2']]);
  });
});
