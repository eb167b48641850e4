import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseLock, serializeLock, type LockData, type LockEntry } from '../src/core/ledger/lock.js';
import { parseManifest, serializeManifest, type ItemRecord, type ManifestData, type RunRecord } from '../src/core/ledger/manifest-format.js';
import { detectKind, mergeLock, mergeManifest, mergeTexts } from '../src/core/ledger/merge.js';
import { mergeFiles } from '../src/core/ledger/merge-files.js';

// The merge rules of issue 5, in process. End-to-end merges through git are in team.e2e.test.ts.

const entry = (run: string, dep = 'h1', extra: Partial<LockEntry> = {}): LockEntry => ({
  cmd: 'make x', deps: [{ path: 'in.txt', hash: `xxh128:${dep}`, size: 1 }], params: {}, outs: [{ path: 'x', hash: 'xxh128:o', size: 1 }],
  git: { commit: 'c0ffee', branch: 'main', dirty: false }, run, ...extra,
});
const lock = (stages: Record<string, LockEntry>): LockData => ({ schema: 1, stages });

const R0 = '20261122T100000Z-000000';
const R1 = '20261122T110000Z-aaaaaa';
const R2 = '20261122T120000Z-bbbbbb';

describe('mergeLock', () => {
  it('takes an entry changed on one side only, from either side', () => {
    const base = lock({ a: entry(R0), b: entry(R0) });
    const ours = lock({ a: entry(R1, 'h2'), b: entry(R0) });
    const theirs = lock({ a: entry(R0), b: entry(R2, 'h3') });
    const m = mergeLock(base, ours, theirs);
    expect(m.data.stages.a.run).toBe(R1);
    expect(m.data.stages.b.run).toBe(R2);
    expect(m.decisions).toEqual([]);
  });

  it('takes the later run when both sides changed an entry, whichever side is ours', () => {
    const base = lock({ a: entry(R0) });
    const early = lock({ a: entry(R1, 'h2') });
    const late = lock({ a: entry(R2, 'h3') });
    expect(mergeLock(base, early, late).data.stages.a.run).toBe(R2);
    expect(mergeLock(base, late, early).data.stages.a.run).toBe(R2);
    expect(mergeLock(base, early, late).decisions).toEqual([{ what: 'stage', key: 'a', winner: 'theirs' }]);
    // Symmetric: the same bytes whichever branch is merged into which.
    expect(serializeLock(mergeLock(base, early, late).data)).toBe(serializeLock(mergeLock(base, late, early).data));
  });

  it('breaks a tie between runs of the same second deterministically', () => {
    const x = lock({ a: entry('20261122T120000Z-111111', 'h2') });
    const y = lock({ a: entry('20261122T120000Z-222222', 'h3') });
    const xy = serializeLock(mergeLock(lock({}), x, y).data);
    expect(xy).toBe(serializeLock(mergeLock(lock({}), y, x).data));
    expect(parseLock(xy).stages.a.run).toBe('20261122T120000Z-222222');
  });

  it('removes an entry removed on one side and unchanged on the other', () => {
    const base = lock({ a: entry(R0), gone: entry(R0) });
    const ours = lock({ a: entry(R0) });
    const theirs = lock({ a: entry(R1, 'h2'), gone: entry(R0) });
    const m = mergeLock(base, ours, theirs);
    expect(Object.keys(m.data.stages)).toEqual(['a']);
    expect(m.data.stages.a.run).toBe(R1);
  });

  it('keeps an entry removed on one side but changed on the other, and says so', () => {
    const m = mergeLock(lock({ a: entry(R0) }), lock({}), lock({ a: entry(R1, 'h2') }));
    expect(m.data.stages.a.run).toBe(R1);
    expect(m.decisions).toEqual([{ what: 'stage', key: 'a', winner: 'theirs', removed: 'ours' }]);
  });

  it('unites entries added on both sides, with an empty base', () => {
    const m = mergeLock(null, lock({ a: entry(R1) }), lock({ b: entry(R2) }));
    expect(Object.keys(m.data.stages).sort()).toEqual(['a', 'b']);
  });

  it('treats a stage called constructor or __proto__ as a plain key', () => {
    const m = mergeLock(lock({}), lock({ constructor: entry(R1) }), lock({}));
    expect(Object.keys(m.data.stages)).toEqual(['constructor']);
    expect(Object.entries(m.data.stages)[0][1].run).toBe(R1);
  });
});

const item = (status: 'success' | 'failed', run: string, time: string, hash = 'xxh128:i'): ItemRecord => (status === 'success'
  ? { status, hash, attempts: 1, output: 'out/x', output_hash: 'xxh128:o', last_processed: time, run }
  : { status, hash, attempts: 1, last_attempt: time, reason: 'exit code 1', run });
const runRec = (started: string, finished: string | null = null): RunRecord => ({
  argv: ['repro'], dvcl: '0.1.0', started_at: started, finished_at: finished, git_branch: 'main', git_commit: 'c0ffee',
  git_dirty: false, host: 'h', node: 'v20', platform: 'linux-x64', user: 'T <t@example.org>',
});
const manifest = (items: Record<string, ItemRecord>, runs: Record<string, RunRecord>, stageRun: string, time: string): ManifestData => ({
  version: 1,
  stages: { parse: { status: 'success', run: stageRun, attempts: 1, last_processed: time, items } },
  runs,
});

describe('mergeManifest', () => {
  const base = manifest({ 'in/a': item('success', R0, '2026-11-22T10:00:01Z') }, { [R0]: runRec('2026-11-22T10:00:00Z') }, R0, '2026-11-22T10:00:02Z');

  it('keeps the items each branch processed, and both runs', () => {
    const ours = manifest({ ...base.stages.parse.items, 'in/b': item('success', R1, '2026-11-22T11:00:01Z') },
      { ...base.runs, [R1]: runRec('2026-11-22T11:00:00Z') }, R1, '2026-11-22T11:00:02Z');
    const theirs = manifest({ ...base.stages.parse.items, 'in/c': item('success', R2, '2026-11-22T12:00:01Z') },
      { ...base.runs, [R2]: runRec('2026-11-22T12:00:00Z') }, R2, '2026-11-22T12:00:02Z');
    const m = mergeManifest(base, ours, theirs);
    expect(Object.keys(m.data.stages.parse.items!).sort()).toEqual(['in/a', 'in/b', 'in/c']);
    expect(Object.keys(m.data.runs).sort()).toEqual([R0, R1, R2]);
    expect(m.data.stages.parse.run).toBe(R2); // the stage record: the later run
    expect(m.decisions).toEqual([{ what: 'stage', key: 'parse', winner: 'theirs' }]);
    expect(serializeManifest(m.data)).toBe(serializeManifest(mergeManifest(base, theirs, ours).data));
  });

  it('takes the later record of an item both branches changed: by time, not by side', () => {
    const failedLater = manifest({ 'in/a': item('failed', R2, '2026-11-22T12:00:01Z', 'xxh128:new') }, base.runs, R0, '2026-11-22T10:00:02Z');
    const okEarlier = manifest({ 'in/a': item('success', R1, '2026-11-22T11:00:01Z', 'xxh128:new') }, base.runs, R0, '2026-11-22T10:00:02Z');
    for (const [o, t] of [[failedLater, okEarlier], [okEarlier, failedLater]]) {
      const m = mergeManifest(base, o, t);
      expect(m.data.stages.parse.items!['in/a'].status).toBe('failed');
      expect(m.data.stages.parse.items!['in/a'].run).toBe(R2);
    }
  });

  it('drops an item one branch pruned and the other left alone', () => {
    const pruned = manifest({}, base.runs, R0, '2026-11-22T10:00:02Z');
    expect(mergeManifest(base, pruned, base).data.stages.parse.items).toEqual({});
    expect(mergeManifest(base, base, pruned).data.stages.parse.items).toEqual({});
  });

  it('keeps a run record one branch pruned while the other still refers to it', () => {
    const theirs = structuredClone(base);
    delete theirs.runs[R0];
    theirs.stages.parse.items = {};
    const ours = structuredClone(base);
    ours.stages.parse.items!['in/a'] = { ...ours.stages.parse.items!['in/a'], attempts: 2 };
    const m = mergeManifest(base, ours, theirs);
    expect(m.data.stages.parse.items!['in/a'].run).toBe(R0);
    expect(m.data.runs[R0]).toEqual(base.runs[R0]);
  });

  it('merges a run record both sides updated: the finished one wins', () => {
    const o = { ...base, runs: { [R0]: runRec('2026-11-22T10:00:00Z', '2026-11-22T10:05:00Z') } };
    const t = { ...base, runs: { [R0]: { ...runRec('2026-11-22T10:00:00Z'), host: 'other' } } };
    expect(mergeManifest(base, o, t).data.runs[R0].finished_at).toBe('2026-11-22T10:05:00Z');
  });
});

describe('mergeTexts', () => {
  const lockText = (stages: Record<string, LockEntry>) => serializeLock(lock(stages));

  it('tells the kind by the path, else by the content', () => {
    expect(detectKind('sub/pipeline.lock', ['{'])).toBe('lock');
    expect(detectKind('.manifest.json', ['schema: 1'])).toBe('manifest');
    expect(detectKind(undefined, ['', '{\n  "version": 1']) ).toBe('manifest');
    expect(detectKind(undefined, ['schema: 1\n'])).toBe('lock');
  });

  it('writes canonical text, and an empty base means added on both branches', () => {
    const r = mergeTexts({ base: '', ours: lockText({ b: entry(R1) }), theirs: lockText({ a: entry(R2) }), path: 'pipeline.lock' });
    expect(r.text).toBe(lockText({ a: entry(R2), b: entry(R1) }));
    const m = mergeTexts({ base: null, ours: '{"version": 1, "stages": {}, "runs": {}}', theirs: serializeManifest(base()), path: '.manifest.json' });
    expect(m.text).toBe(serializeManifest(base()));
  });

  it('refuses a version with conflict markers, naming the side', () => {
    const bad = `<<<<<<< ours\n${lockText({ a: entry(R1) })}=======\n${lockText({ a: entry(R2) })}>>>>>>> theirs\n`;
    expect(() => mergeTexts({ base: '', ours: lockText({}), theirs: bad, path: 'pipeline.lock' })).toThrow(/pipeline\.lock \(theirs\)/);
    expect(() => mergeTexts({ base: '', ours: '{"version": 1, "stages": ', theirs: '{}', path: '.manifest.json' })).toThrow(/\.manifest\.json \(ours\): invalid JSON/);
  });

  function base(): ManifestData {
    return manifest({ 'in/a': item('success', R0, '2026-11-22T10:00:01Z') }, { [R0]: runRec('2026-11-22T10:00:00Z') }, R0, '2026-11-22T10:00:02Z');
  }
});

describe('mergeFiles (the driver on disk)', () => {
  let dir: string;
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('leaves OURS untouched and fails with exit 1 when a side cannot be parsed', () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-merge-'));
    const f = (n: string, t: string) => { fs.writeFileSync(path.join(dir, n), t); return path.join(dir, n); };
    const ours = f('ours', serializeLock(lock({ a: entry(R1) })));
    const before = fs.readFileSync(ours, 'utf8');
    let err: any;
    try {
      mergeFiles({ base: path.join(dir, 'missing'), ours, theirs: f('theirs', 'schema: 1\nstages: [\n'), path: 'pipeline.lock' });
    } catch (e) {
      err = e;
    }
    expect(err?.exit).toBe(1);
    expect(err?.message).toMatch(/cannot merge pipeline\.lock: pipeline\.lock \(theirs\): not valid YAML/);
    expect(fs.readFileSync(ours, 'utf8')).toBe(before);
  });

  it('writes the merged canonical text to OURS; a missing base file is an empty base', () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-merge-'));
    const ours = path.join(dir, 'ours');
    fs.writeFileSync(ours, serializeLock(lock({ a: entry(R1) })));
    fs.writeFileSync(path.join(dir, 'theirs'), serializeLock(lock({ b: entry(R2) })));
    mergeFiles({ base: path.join(dir, 'nope'), ours, theirs: path.join(dir, 'theirs') });
    expect(Object.keys(parseLock(fs.readFileSync(ours, 'utf8')).stages)).toEqual(['a', 'b']);
    expect(parseManifest('{"version": 1}', 'x').stages).toEqual({});
  });
});
