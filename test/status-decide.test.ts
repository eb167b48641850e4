// The staleness decision in-process: a project built in memory (config, lock entry, ledger record,
// facts), one case per reason code, and the item re-run rule. No file is read.
import { describe, expect, it } from 'vitest';
import type { StageConfig } from '../src/core/pipeline.js';
import type { LockEntry } from '../src/core/ledger/lock.js';
import type { ItemRecord, StageRecord } from '../src/core/ledger/manifest.js';
import { decideItem, decideItemStage, decideStage, settled, type ItemTally, type StageFacts } from '../src/core/status/decide.js';
import type { Evaluation } from '../src/core/status/status.js';
import { shouldRun } from '../src/core/run/plan.js';
import type { Reason, ReasonCode } from '../src/core/status/reasons.js';

const H = (n: number | string) => `xxh128:${String(n).padStart(32, '0')}`;

/** A stage as `.pipelinerc` would give it: `cp in.txt out.txt` with one dep, one param, one out. */
function stage(over: Partial<StageConfig> = {}): StageConfig {
  return {
    name: 's', cmd: ['cp in.txt out.txt'], deps: ['in.txt'], params: [{ file: 'params.yaml', key: 'lr' }], outs: ['out.txt'],
    env: {}, wdir: '.', persist: false, frozen: false, always_changed: false, ...over,
  };
}

/** The lock entry of the stage's last run, with dep hash 1, lr 0.1 and out hash 2. */
function entry(over: Partial<LockEntry> = {}): LockEntry {
  return {
    cmd: 'cp in.txt out.txt', deps: [{ path: 'in.txt', hash: H(1), size: 1 }], params: { 'params.yaml': { lr: 0.1 } },
    outs: [{ path: 'out.txt', hash: H(2), size: 1 }], git: { commit: null, branch: null, dirty: null }, run: 'r1', ...over,
  };
}

/** What is on disk now: by default exactly what the entry recorded. */
function facts(over: { deps?: Record<string, string>; missing?: string[]; params?: Record<string, unknown>; outs?: Record<string, string | null>; cmd?: string; wdir?: string; env?: Record<string, string>; asRecorded?: Record<string, string | null> } = {}): StageFacts {
  const deps = Object.entries(over.deps ?? { 'in.txt': H(1) }).map(([path, hash]) => ({ path, hash, size: 1 }));
  return {
    key: { cmd: over.cmd ?? 'cp in.txt out.txt', ...(over.wdir ? { wdir: over.wdir } : {}), ...(over.env ? { env: over.env } : {}), deps, params: { 'params.yaml': over.params ?? { lr: 0.1 } } },
    missing: over.missing ?? [],
    depsAsRecorded: new Map(Object.entries(over.asRecorded ?? {})),
    outs: new Map(Object.entries(over.outs ?? { 'out.txt': H(2) })),
  };
}

const nothingProduced = () => false;
const codes = (rs: Reason[]) => rs.map((r) => r.code);

function decide(o: { stage?: StageConfig; entry?: LockEntry | null; record?: StageRecord; facts?: StageFacts; upstream?: string[]; produced?: (p: string) => boolean; force?: boolean } = {}) {
  return decideStage(o.stage ?? stage(), o.entry === null ? undefined : o.entry ?? entry(), o.record, o.facts ?? facts(), o.upstream ?? [], o.produced ?? nothingProduced, { force: o.force });
}

/** A per-item stage over in/*.txt whose items are all done. */
const itemStage = (over: Partial<StageConfig> = {}) => stage({ foreach: ['in/*.txt'], out: 'out/${stem}.txt', deps: [], outs: [], params: [], ...over });
const itemEntry = (over: Partial<LockEntry> = {}) => entry({ deps: [], params: {}, outs: [], out: 'out/${stem}.txt', items: { count: 2, hash: H(9) }, ...over });
const itemFacts = () => ({ ...facts({ deps: {}, outs: {} }), key: { cmd: 'cp in.txt out.txt', deps: [], params: {} } });
const done: ItemTally = { recorded: 2, pending: 0, failedLeft: 0, givenUp: 0, dropped: 0 };

function decideItems(o: { stage?: StageConfig; entry?: LockEntry | null; tally?: Partial<ItemTally>; facts?: StageFacts; itemsHash?: string; upstream?: string[]; force?: boolean } = {}) {
  return decideItemStage(o.stage ?? itemStage(), o.entry === null ? undefined : o.entry ?? itemEntry(), { ...done, ...o.tally }, o.facts ?? itemFacts(),
    () => o.itemsHash ?? H(9), o.upstream ?? [], nothingProduced, { force: o.force });
}

describe('a stage is up to date', () => {
  it('when everything is as its lock entry recorded', () => {
    expect(decide()).toEqual({ state: 'up_to_date', reasons: [] });
    expect(decideItems()).toEqual({ state: 'up_to_date', reasons: [] });
  });

  it('when a dep recorded with another algorithm hashes the same with that algorithm', () => {
    const sha = 'sha256:' + 'a'.repeat(64);
    const d = decide({ entry: entry({ deps: [{ path: 'in.txt', hash: sha, size: 1 }] }), facts: facts({ asRecorded: { 'in.txt': sha } }) });
    expect(d.state).toBe('up_to_date');
  });

  it('with wdir "." written or left out, and with params keys in any order', () => {
    expect(decide({ facts: facts({ params: { lr: 0.1 } }), entry: entry({ wdir: '.' }) }).state).toBe('up_to_date');
  });
});

describe('one case per reason code', () => {
  const cases: [ReasonCode, () => Reason[]][] = [
    ['never_run', () => decide({ entry: null }).reasons],
    ['cmd_changed', () => decide({ facts: facts({ cmd: 'cp -v in.txt out.txt' }) }).reasons],
    ['dep_changed', () => decide({ facts: facts({ deps: { 'in.txt': H(3) } }) }).reasons],
    ['dep_missing', () => decide({ facts: facts({ deps: {}, missing: ['in.txt'] }) }).reasons],
    ['param_changed', () => decide({ facts: facts({ params: { lr: 0.2 } }) }).reasons],
    ['out_missing', () => decide({ facts: facts({ outs: { 'out.txt': null } }) }).reasons],
    ['out_changed', () => decide({ facts: facts({ outs: { 'out.txt': H(4) } }) }).reasons],
    ['upstream_stale', () => decide({ upstream: ['a'] }).reasons],
    ['always_changed', () => decide({ stage: stage({ always_changed: true }) }).reasons],
    ['items_pending', () => decideItems({ tally: { pending: 3 } }).reasons],
    ['items_failed', () => decideItems({ tally: { failedLeft: 1 } }).reasons],
    ['items_dropped', () => decideItems({ tally: { dropped: 1 } }).reasons],
    ['last_run_failed', () => decide({ record: { status: 'failed', reason: 'exit code 1: boom' } }).reasons],
    ['forced', () => decide({ force: true }).reasons],
  ];
  // Every code of the Reason union is here: adding one to reasons.ts without a case fails typecheck
  // below (the record must name every code).
  const all: Record<ReasonCode, true> = {
    never_run: true, cmd_changed: true, dep_changed: true, dep_missing: true, param_changed: true, out_missing: true, out_changed: true,
    upstream_stale: true, always_changed: true, items_pending: true, items_failed: true, items_dropped: true, last_run_failed: true, forced: true,
  };
  it('covers every code', () => expect(cases.map(([c]) => c).sort()).toEqual(Object.keys(all).sort()));

  it.each(cases)('%s', (code, reasons) => {
    expect(codes(reasons())).toEqual([code]);
  });

  it('names what changed, old and new', () => {
    expect(decide({ facts: facts({ deps: { 'in.txt': H(3) } }) }).reasons).toEqual([{ code: 'dep_changed', path: 'in.txt', old: H(1), new: H(3) }]);
    expect(decide({ facts: facts({ params: { lr: 0.2 } }) }).reasons).toEqual([{ code: 'param_changed', file: 'params.yaml', key: 'lr', old: 0.1, new: 0.2 }]);
    expect(decide({ facts: facts({ outs: { 'out.txt': H(4) } }) }).reasons).toEqual([{ code: 'out_changed', path: 'out.txt', old: H(2), new: H(4) }]);
    expect(decideItems({ tally: { givenUp: 2 } }).reasons).toEqual([{ code: 'items_failed', count: 0, given_up: 2 }]);
  });
});

describe('the finer points', () => {
  it('wdir and env are part of the command', () => {
    expect(codes(decide({ facts: facts({ wdir: 'sub' }) }).reasons)).toEqual(['cmd_changed']);
    expect(codes(decide({ facts: facts({ env: { A: '1' } }) }).reasons)).toEqual(['cmd_changed']);
  });

  it('a dep that is gone but that a stage produces is a changed dep (it is made again), not a missing one', () => {
    const d = decide({ facts: facts({ deps: {}, missing: ['in.txt'] }), produced: (p) => p === 'in.txt' });
    expect(d.reasons).toEqual([{ code: 'dep_changed', path: 'in.txt', old: H(1), new: null }]);
  });

  it('a dep or out removed from .pipelinerc is a change', () => {
    expect(decide({ stage: stage({ deps: [] }), facts: facts({ deps: {} }) }).reasons).toEqual([{ code: 'dep_changed', path: 'in.txt', old: H(1), new: null }]);
    expect(decide({ stage: stage({ outs: [] }), facts: facts({ outs: {} }) }).reasons).toEqual([{ code: 'out_changed', path: 'out.txt', old: H(2), new: null }]);
  });

  it('NaN equals NaN, null does not', () => {
    expect(decide({ entry: entry({ params: { 'params.yaml': { lr: NaN } } }), facts: facts({ params: { lr: NaN } }) }).state).toBe('up_to_date');
    expect(codes(decide({ entry: entry({ params: { 'params.yaml': { lr: null } } }), facts: facts({ params: { lr: NaN } }) }).reasons)).toEqual(['param_changed']);
  });

  it('a failed last run makes the stage failed, not stale', () => {
    expect(decide({ record: { status: 'failed', reason: 'x' } }).state).toBe('failed');
    expect(decideItems({ tally: { failedLeft: 1 } }).state).toBe('failed');
  });

  it('a frozen stage is frozen whatever changed', () => {
    expect(decide({ stage: stage({ frozen: true }), facts: facts({ deps: { 'in.txt': H(7) } }) })).toEqual({ state: 'frozen', reasons: [] });
  });

  // Moved from repro.e2e ('a frozen stage never runs and is never reported stale').
  it('a frozen stage leaves the report up to date and is never run, even forced', () => {
    const d = decide({ stage: stage({ frozen: true }), facts: facts({ deps: { 'in.txt': H(7) } }) });
    expect(settled(d.state)).toBe(true);
    expect(settled('stale') || settled('failed')).toBe(false);
    const ev = (reasons: Reason[]) => ({ status: { name: 's', state: d.state, reasons } }) as unknown as Evaluation;
    expect(shouldRun(ev([]))).toBe(false);
    expect(shouldRun(ev([{ code: 'forced' }]))).toBe(false);
  });

  it('per-item: all items done but a missing lock entry, or one over another set of items', () => {
    expect(codes(decideItems({ entry: null }).reasons)).toEqual(['never_run']);
    expect(decideItems({ itemsHash: H(8) }).reasons).toEqual([{ code: 'dep_changed', path: 'in/*.txt', old: H(9), new: H(8) }]);
  });

  it('per-item: the stage-level inputs are compared only while items are pending', () => {
    const changed = { ...itemFacts(), key: { cmd: 'other', deps: [], params: {} } };
    expect(decideItems({ facts: changed }).reasons).toEqual([]);
    expect(codes(decideItems({ facts: changed, tally: { pending: 2 } }).reasons)).toEqual(['cmd_changed', 'items_pending']);
  });
});

describe('the item re-run rule', () => {
  const ok = (hash: string, extra: Partial<ItemRecord> = {}): ItemRecord =>
    ({ status: 'success', hash, attempts: 1, output: 'out/a.json', output_hash: 'xxh128:o', run: 'r1', stage_hash: 's1', ...extra });
  const failed = (hash: string, attempts: number): ItemRecord =>
    ({ status: 'failed', hash, attempts, reason: 'exit code 1: boom', run: 'r1', stage_hash: 's1' });
  const present = { hash: 'h1', stage_hash: 's1', outputExists: true, outputHash: 'xxh128:o', maxAttempts: 3 };
  const records: Record<string, ItemRecord | undefined> = { 'ok.html': ok('h1'), 'bad.html': failed('h1', 1), 'dead.html': failed('h1', 3) };

  it.each([
    ['new', 'other.html', {}],
    ['changed', 'ok.html', { hash: 'h2' }],
    ['stage_changed', 'ok.html', { stage_hash: 's2' }],
    ['output_missing', 'ok.html', { outputExists: false }],
    ['output_changed', 'ok.html', { outputHash: 'xxh128:edited' }],
    ['failed', 'bad.html', {}],
    ['forced', 'ok.html', { force: true }],
    ['forced', 'dead.html', { force: true }],
    ['changed', 'dead.html', { hash: 'h2' }], // a new input version gets fresh attempts
  ] as const)('runs when %s (%s)', (why, item, over) => {
    expect(decideItem(records[item], { ...present, ...over })).toEqual({ run: true, why, givenUp: false });
  });

  it('skips an up-to-date item, and one that failed max_attempts times', () => {
    expect(decideItem(records['ok.html'], present)).toEqual({ run: false, why: null, givenUp: false });
    expect(decideItem(records['ok.html'], { ...present, outputHash: null })).toMatchObject({ run: false });
    expect(decideItem(records['dead.html'], present)).toEqual({ run: false, why: 'failed', givenUp: true });
    expect(decideItem(records['dead.html'], { ...present, maxAttempts: 4 })).toMatchObject({ run: true, why: 'failed' });
  });
});
