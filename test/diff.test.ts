import { describe, expect, it } from 'vitest';
import { diffItems, diffLedgers } from '../src/core/ledger/diff.js';
import { diffParams } from '../src/core/ledger/params-diff.js';
import { dict, type ItemRecord, type ManifestData } from '../src/core/ledger/manifest-format.js';
import type { LockData, LockEntry } from '../src/core/ledger/lock.js';
import { diffMarkdown, diffText, paramsMarkdown, paramsText } from '../src/cli/render-diff.js';
import type { DiffSide } from '../src/core/services/diff.js';

// The comparison behind `dvcl diff` and `dvcl params diff`, in process: two ledgers in, data out.

const entry = (run: string, extra: Partial<LockEntry> = {}): LockEntry => ({
  cmd: 'train', deps: [{ path: 'data.txt', hash: 'xxh128:aaaaaaaaaaaaaaaa', size: 1 }], params: { 'params.yaml': { lr: 0.1 } },
  outs: [{ path: 'model.txt', hash: 'xxh128:bbbbbbbbbbbbbbbb', size: 1 }], git: { commit: 'c0', branch: 'main', dirty: false }, run, ...extra,
});
const lock = (stages: Record<string, LockEntry>): LockData => ({ schema: 1, stages });
const item = (hash: string, extra: Partial<ItemRecord> = {}): ItemRecord => ({ status: 'success', hash, attempts: 1, output_hash: `o-${hash}`, run: 'r1', ...extra });
const manifest = (stages: Record<string, Record<string, ItemRecord> | undefined>): ManifestData => ({
  version: 1, runs: dict(),
  stages: dict(Object.fromEntries(Object.entries(stages).map(([n, items]) => [n, items ? { status: 'success' as const, items: dict(items) } : { status: 'success' as const }]))),
});
const side = (rev: string, recorded = true, commit: string | null = null): DiffSide => ({ rev, commit, recorded });

describe('diffLedgers: stages', () => {
  it('names the stages added, removed and re-run, with the params, deps and outs that changed', () => {
    const a = lock({ train: entry('r1'), old: entry('r1'), same: entry('r1') });
    const b = lock({
      train: entry('r2', { params: { 'params.yaml': { lr: 0.2 } }, outs: [{ path: 'model.txt', hash: 'xxh128:cccccccccccccccc', size: 1 }] }),
      fresh: entry('r2'),
      same: entry('r1'),
    });
    const d = diffLedgers({ lock: a, manifest: null }, { lock: b, manifest: null });
    expect(d.unchanged).toBe(1);
    expect(d.stages.map((s) => [s.name, s.change])).toEqual([['fresh', 'added'], ['old', 'removed'], ['train', 'rerun']]);
    const train = d.stages.find((s) => s.name === 'train')!;
    expect(train.run).toEqual({ old: 'r1', new: 'r2' });
    expect(train.changes).toEqual([
      { code: 'param_changed', file: 'params.yaml', key: 'lr', old: 0.1, new: 0.2 },
      { code: 'out_changed', path: 'model.txt', old: 'xxh128:bbbbbbbbbbbbbbbb', new: 'xxh128:cccccccccccccccc' },
    ]);
    expect(d.stages.find((s) => s.name === 'old')!.changes).toEqual([]);
  });

  it('a new run with the same hashes is a re-run with no changes; a dep change is old → new', () => {
    const d = diffLedgers({ lock: lock({ s: entry('r1') }), manifest: null }, {
      lock: lock({ s: entry('r2'), t: entry('r1') }), manifest: null,
    });
    expect(d.stages.find((s) => s.name === 's')).toEqual({ name: 's', change: 'rerun', run: { old: 'r1', new: 'r2' }, changes: [] });
    const dep = diffLedgers({ lock: lock({ s: entry('r1') }), manifest: null }, {
      lock: lock({ s: entry('r2', { deps: [{ path: 'data.txt', hash: 'xxh128:dddddddddddddddd', size: 2 }, { path: 'extra.txt', hash: 'xxh128:e', size: 1 }] }) }), manifest: null,
    });
    expect(dep.stages[0].changes).toEqual([
      { code: 'dep_changed', path: 'data.txt', old: 'xxh128:aaaaaaaaaaaaaaaa', new: 'xxh128:dddddddddddddddd' },
      { code: 'dep_changed', path: 'extra.txt', old: null, new: 'xxh128:e' },
    ]);
  });

  it('a side with no pipeline recorded is empty: every stage added (or removed)', () => {
    const b = { lock: lock({ a: entry('r1'), b: entry('r1') }), manifest: manifest({ up: { 'in/1.txt': item('h1') } }) };
    const d = diffLedgers({ lock: null, manifest: null }, b);
    expect(d.stages.map((s) => [s.name, s.change])).toEqual([['a', 'added'], ['b', 'added']]);
    expect(d.unchanged).toBe(0);
    expect(d.items).toMatchObject([{ stage: 'up', count: { old: 0, new: 1 }, added: ['in/1.txt'] }]);
    expect(diffLedgers(b, { lock: null, manifest: null }).stages.map((s) => s.change)).toEqual(['removed', 'removed']);
    expect(diffLedgers({ lock: null, manifest: null }, { lock: null, manifest: null })).toEqual({ stages: [], unchanged: 0, failed: [], items: [] });
  });
});

describe('diffLedgers: items of per-item stages', () => {
  it('added, removed, changed (input or output hash) and failed (newly or still), sorted', () => {
    const a = manifest({
      up: { 'b.txt': item('h1'), 'a.txt': item('h2'), 'gone.txt': item('h3'), 'out.txt': item('h4'), 'still.txt': item('h5', { status: 'failed', output_hash: undefined }), 'same.txt': item('h6') },
      whole: undefined,
    });
    const b = manifest({
      up: {
        'b.txt': item('h1b'), 'a.txt': item('h2b'), 'out.txt': item('h4', { output_hash: 'o-other' }), 'new.txt': item('h7'),
        'still.txt': item('h5', { status: 'failed', output_hash: undefined, attempts: 2 }),
        'same.txt': item('h6', { status: 'failed', output_hash: undefined }),
      },
      whole: undefined,
    });
    const d = diffLedgers({ lock: null, manifest: a }, { lock: null, manifest: b });
    expect(d.items).toEqual([{
      stage: 'up', count: { old: 6, new: 6 },
      added: ['new.txt'], removed: ['gone.txt'], changed: ['a.txt', 'b.txt', 'out.txt', 'same.txt'],
      failed: ['same.txt', 'still.txt'], newly_failed: 1,
    }]);
  });

  it('stages whose last run failed on the new side, newly or still, with the reason', () => {
    const m = (status: 'success' | 'failed', reason?: string): ManifestData => ({
      version: 1, runs: dict(), stages: dict({ train: { status, ...(reason ? { reason } : {}) }, ok: { status: 'success' } }),
    });
    expect(diffLedgers({ lock: null, manifest: m('success') }, { lock: null, manifest: m('failed', 'exit 3') }).failed).toEqual([{ name: 'train', reason: 'exit 3', newly: true }]);
    expect(diffLedgers({ lock: null, manifest: m('failed') }, { lock: null, manifest: m('failed') }).failed).toEqual([{ name: 'train', reason: null, newly: false }]);
    expect(diffLedgers({ lock: null, manifest: m('failed') }, { lock: null, manifest: m('success') }).failed).toEqual([]);
  });

  it('a stage whose items did not change is not listed; neither is a whole-stage record', () => {
    const m = manifest({ up: { 'a.txt': item('h1') }, whole: undefined });
    expect(diffLedgers({ lock: null, manifest: m }, { lock: null, manifest: manifest({ up: { 'a.txt': item('h1', { run: 'r2', attempts: 2 }) }, whole: undefined }) }).items).toEqual([]);
  });

  it('item paths that are Object.prototype names are plain keys', () => {
    const d = diffItems('up', dict({ constructor: item('h1') }), dict({ constructor: item('h2'), __proto__: item('h3') } as Record<string, ItemRecord>));
    expect(d.changed).toEqual(['constructor']);
  });

  it('100,000 items per side: maps and one sort per list', () => {
    const n = 100_000;
    const a = dict<ItemRecord>();
    const b = dict<ItemRecord>();
    for (let i = 0; i < n; i++) {
      a[`in/${i}.txt`] = item(`h${i}`);
      if (i % 10 !== 0) b[`in/${i}.txt`] = item(i % 7 === 0 ? `x${i}` : `h${i}`, i % 13 === 0 ? { status: 'failed' } : {});
    }
    for (let i = n; i < n + 500; i++) b[`in/${i}.txt`] = item(`h${i}`);
    const d = diffItems('up', a, b);
    expect(d.removed).toHaveLength(n / 10);
    expect(d.added).toHaveLength(500);
    const kept = (pred: (i: number) => boolean) => Array.from({ length: n }, (_, i) => i).filter((i) => i % 10 !== 0 && pred(i)).length;
    expect(d.changed).toHaveLength(kept((i) => i % 7 === 0));
    expect(d.failed).toHaveLength(kept((i) => i % 13 === 0));
    expect(d.count).toEqual({ old: n, new: n - n / 10 + 500 });
  });
});

describe('diffParams', () => {
  const a = lock({
    train: entry('r1', { params: { 'params.yaml': { lr: 0.1, epochs: 3, dropped: 'x' } } }),
    evaluate: entry('r1', { params: { 'params.yaml': { lr: 0.1 } } }),
  });
  const b = lock({
    train: entry('r2', { params: { 'params.yaml': { lr: 0.2, epochs: 3, batch: 32 } } }),
    evaluate: entry('r2', { params: { 'params.yaml': { lr: 0.2 } } }),
  });

  it('one row per param with old and new, and the stages tracking it; unchanged only with all', () => {
    expect(diffParams(a, b)).toEqual([
      { file: 'params.yaml', key: 'batch', change: 'added', old: null, new: 32, stages: ['train'] },
      { file: 'params.yaml', key: 'dropped', change: 'removed', old: 'x', new: null, stages: ['train'] },
      { file: 'params.yaml', key: 'lr', change: 'modified', old: 0.1, new: 0.2, stages: ['evaluate', 'train'] },
    ]);
    expect(diffParams(a, b, { all: true }).map((r) => [r.key, r.change])).toEqual([
      ['batch', 'added'], ['dropped', 'removed'], ['epochs', 'unchanged'], ['lr', 'modified'],
    ]);
  });

  it('stages recording different values on one side get a row each', () => {
    const stale = lock({ ...b.stages, evaluate: entry('r1', { params: { 'params.yaml': { lr: 0.1 } } }) });
    expect(diffParams(a, stale).filter((r) => r.key === 'lr')).toEqual([
      { file: 'params.yaml', key: 'lr', change: 'modified', old: 0.1, new: 0.2, stages: ['train'] },
    ]);
    expect(diffParams(a, stale, { all: true }).filter((r) => r.key === 'lr').map((r) => r.stages)).toEqual([['evaluate'], ['train']]);
  });

  it('no lock on a side: every param added; values compared exactly (a BigInt, NaN)', () => {
    expect(diffParams(null, b).every((r) => r.change === 'added')).toBe(true);
    const x = lock({ s: entry('r1', { params: { p: { big: 9007199254740993n, n: NaN } } }) });
    const y = lock({ s: entry('r1', { params: { p: { big: 9007199254740993n, n: NaN } } }) });
    expect(diffParams(x, y)).toEqual([]);
    const z = lock({ s: entry('r1', { params: { p: { big: 9007199254740995n, n: NaN } } }) });
    expect(diffParams(x, z).map((r) => r.key)).toEqual(['big']);
  });
});

describe('rendering', () => {
  const d = {
    a: side('HEAD', true, '0123456789abcdef0123456789abcdef01234567'), b: side('workspace'),
    ...diffLedgers(
      { lock: lock({ train: entry('r1') }), manifest: manifest({ up: Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`in/${String(i).padStart(2, '0')}.txt`, item(`h${i}`)])) }) },
      { lock: lock({ train: entry('r2', { params: { 'params.yaml': { lr: 0.2 } } }) }), manifest: manifest({ up: {} }) },
    ),
  };

  it('text: stages with their changes, items summarised with the first names', () => {
    const text = diffText(d);
    expect(text).toContain('HEAD (0123456789) → workspace');
    expect(text).toContain('train: re-run (run r1 → r2)');
    expect(text).toContain('param params.yaml:lr 0.1 → 0.2');
    expect(text).toContain('up: 15 → 0 items: 0 added, 15 removed, 0 changed');
    expect(text).toContain('in/09.txt … and 5 more (--all lists them)');
    expect(diffText(d, { all: true })).toContain('in/14.txt');
  });

  it('markdown: a table per kind, pipes escaped', () => {
    const md = diffMarkdown(d).split('\n');
    expect(md).toContain('| Stage | Change | Details |');
    expect(md).toContain('| train | re-run | param params.yaml:lr 0.1 → 0.2 |');
    expect(md).toContain('| up | 15 → 0 | 0 | 15 | 0 | 0 |');
    const piped = { ...d, stages: [{ ...d.stages[0], name: 'a|b' }] };
    expect(diffMarkdown(piped)).toContain('| a\\|b |');
  });

  it('params: Path, Param, the two revisions, Stages', () => {
    const p = { a: side('HEAD'), b: side('workspace'), params: diffParams(lock({ train: entry('r1') }), lock({ train: entry('r2', { params: { 'params.yaml': { lr: 0.2 } } }) })) };
    expect(paramsText(p).split('\n')).toEqual(['Path         Param  HEAD  workspace  Stages', 'params.yaml  lr     0.1   0.2        train']);
    expect(paramsMarkdown(p).split('\n')[2]).toBe('| params.yaml | lr | `0.1` | `0.2` | train |');
    expect(paramsText({ ...p, a: side('v1', false), params: [] })).toBe('v1: no pipeline recorded there\nNo param changed between v1 and workspace.');
  });
});
