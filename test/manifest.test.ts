import fs, { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DvclError } from '../src/core/errors.js';
import {
  Manifest, parseManifest, serializeManifest, type ItemRecord, type ManifestData, type RunRecord,
} from '../src/core/ledger/manifest.js';
import { JournalWriter, readJournal } from '../src/core/ledger/manifest-journal.js';

let root: string;
let warnings: string[];
const load = (extra: Partial<Parameters<typeof Manifest.load>[0]> = {}) =>
  Manifest.load({ root, onWarning: (m) => warnings.push(m), ...extra });
const manifestFile = () => join(root, '.manifest.json');
const journalFile = () => join(root, '.dvcl', 'journal.jsonl');
const read = (p: string) => readFileSync(p, 'utf8');

const RUN: RunRecord = {
  argv: ['repro'], dvcl: '0.1.0', started_at: '2026-11-22T10:15:00Z', finished_at: null, git_branch: 'main',
  git_commit: null, git_dirty: false, host: 'h', node: 'v20', platform: 'linux-x64', user: null,
};
const ok = (hash: string, run = 'r1', extra: Partial<ItemRecord> = {}): ItemRecord =>
  ({ status: 'success', hash, attempts: 1, output: 'out/a.json', output_hash: 'xxh128:o', run, ...extra });
const failed = (hash: string, attempts: number, run = 'r1'): ItemRecord =>
  ({ status: 'failed', hash, attempts, reason: 'exit code 1: boom', run });

function thrown(fn: () => unknown): DvclError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DvclError);
    return e as DvclError;
  }
  throw new Error('expected an error');
}

/** A saved manifest with one good item, then a second save so that `.bak` holds the first. */
function savedTwice(): void {
  const m = load();
  m.recordRun('r1', RUN);
  m.recordItem('parse', 'data/a.html', ok('xxh128:a'));
  m.save();
  m.recordItem('parse', 'data/b.html', ok('xxh128:b'));
  m.save();
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'dvcl-manifest-'));
  warnings = [];
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(root, { recursive: true, force: true });
});

describe('canonical serialization', () => {
  it('sorts keys at every level, indents by two, ends with a newline, whatever the insertion order', () => {
    const a: ManifestData = { version: 1, runs: {}, stages: { b: { status: 'success', run: 'r' }, a: { status: 'failed', items: {
      'z.html': ok('h1'), '10': ok('h2'), '9': ok('h3'),
    } } } };
    const b: ManifestData = { stages: { a: { items: { '9': ok('h3'), '10': ok('h2'), 'z.html': ok('h1') }, status: 'failed' }, b: { run: 'r', status: 'success' } }, version: 1, runs: {} };
    const text = serializeManifest(a);
    expect(serializeManifest(b)).toBe(text);
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.startsWith('{\n  "runs": {},\n  "stages": {\n    "a": {\n')).toBe(true);
    // integer-like file names sort as strings too (JSON.stringify would put them first, numerically)
    expect(text.indexOf('"10"')).toBeLessThan(text.indexOf('"9"'));
    expect(text.indexOf('"9"')).toBeLessThan(text.indexOf('"z.html"'));
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(a)));
  });

  it('formats documents with integer-like keys (the slow path) exactly like others', () => {
    const doc = (first: string): ManifestData => ({ version: 1, runs: { r1: RUN }, stages: {
      parse: { status: 'success', items: { [first]: ok('h1'), 'b.html': failed('h2', 2) } }, empty: { status: 'success', items: {} },
    } });
    expect(serializeManifest(doc('4'))).toBe(serializeManifest(doc('4x')).replace('"4x"', '"4"'));
  });

  it('round-trips through save and load byte for byte', () => {
    const m = load();
    const run = m.newRunId(new Date('2026-11-22T10:15:00.123Z'));
    expect(run).toMatch(/^20261122T101500Z-[0-9a-f]{6}$/);
    m.recordRun(run, RUN);
    m.recordSuccess('parse', 'data/a.html', { hash: 'xxh128:a', output: 'out/a.json', output_hash: 'xxh128:o', run, now: new Date('2026-11-22T10:15:02.500Z') });
    m.recordStage('prepare', { status: 'success', run, attempts: 1 });
    m.save();
    const text = read(manifestFile());
    expect(text).toContain('"last_processed": "2026-11-22T10:15:02Z"');
    const again = load();
    expect(again.data).toEqual(m.data);
    expect(serializeManifest(parseManifest(text, '.manifest.json'))).toBe(text);
    again.save();
    expect(read(manifestFile())).toBe(text);
    expect(existsSync(journalFile())).toBe(false);
  });

  it('keeps stage names and file names that collide with Object.prototype as plain keys', () => {
    const m = load();
    m.recordItem('constructor', '__proto__', ok('h'));
    m.save();
    const again = load();
    expect(again.stage('constructor')?.items?.['__proto__']?.hash).toBe('h');
    expect(again.stage('toString')).toBeUndefined();
  });

  it('refuses absolute and climbing paths', () => {
    const m = load();
    expect(thrown(() => m.recordItem('parse', '/etc/passwd', ok('h'))).code).toBe('config');
    expect(thrown(() => m.recordItem('parse', 'a/../../x', ok('h'))).code).toBe('config');
    expect(thrown(() => m.recordItem('parse', 'a.html', ok('h', 'r1', { output: '/tmp/out' }))).code).toBe('config');
  });
});

describe('item records read from the file', () => {
  const good = {
    status: 'success', hash: 'xxh128:a', stage_hash: 'xxh128:s', attempts: 1, output: 'out/a', output_hash: 'xxh128:o',
    last_processed: '2026-11-22T10:15:02Z', last_attempt: '2026-11-22T10:15:02Z', reason: 'exit code 1', run: 'r1',
  };
  const optional = ['stage_hash', 'output', 'output_hash', 'last_processed', 'last_attempt', 'reason'];
  // JSON.stringify leaves out a field set to undefined: that is a missing field.
  const parse = (rec: unknown) => parseManifest(JSON.stringify({ version: 1, stages: { s: { status: 'success', items: { 'a.txt': rec } } }, runs: {} }), 'm');

  it('are taken with every field of the right type, and without the optional ones', () => {
    expect(parse(good).stages.s.items!['a.txt']).toEqual(good);
    expect(() => parse({ ...good, ...Object.fromEntries(optional.map((k) => [k, undefined])), status: 'failed', attempts: 0 })).not.toThrow();
  });

  it('are refused with a field of the wrong type, or a required one missing, naming it', () => {
    const bad: Record<string, unknown[]> = {
      status: [undefined, 'ok', 1, null, true],
      hash: [undefined, 1, null, {}, []],
      attempts: [undefined, -1, 1.5, '1', null],
      run: [undefined, 1, null, ['r1']],
      ...Object.fromEntries(optional.map((k) => [k, [1, null, false, {}, ['x']]])),
    };
    for (const [k, values] of Object.entries(bad)) {
      for (const v of values) expect(() => parse({ ...good, [k]: v }), `${k}: ${JSON.stringify(v)}`).toThrow(`m: stages.s.items["a.txt"].${k}: `);
    }
    for (const v of [null, 1, 'x', [good]]) expect(() => parse(v)).toThrow('m: stages.s.items["a.txt"]: expected an object');
  });
});

describe('journal', () => {
  it('replays a crashed run: records that were never saved come back, and the journal goes', () => {
    savedTwice();
    let m: Manifest | null = load();
    const run = m.newRunId();
    m.recordRun(run, RUN);
    m.recordItem('parse', 'data/c.html', ok('xxh128:c', run));
    m.recordItem('parse', 'data/d.html', failed('xxh128:d', 1, run));
    m.removeItems('parse', ['data/a.html']);
    m.recordStage('parse', { status: 'failed', run, reason: '1 item failed' });
    const before = read(manifestFile());
    m = null; // crash: no save
    expect(existsSync(journalFile())).toBe(true);
    expect(read(manifestFile())).toBe(before);

    const after = load();
    expect(warnings.join('\n')).toMatch(/recovered 5 change/);
    expect(Object.keys(after.stage('parse')!.items!).sort()).toEqual(['data/b.html', 'data/c.html', 'data/d.html']);
    expect(after.stage('parse')).toMatchObject({ status: 'failed', reason: '1 item failed' });
    expect(after.data.runs[run]).toEqual(RUN);
    expect(existsSync(journalFile())).toBe(false);
    expect(parseManifest(read(manifestFile()), 'm').stages.parse.items!['data/c.html']).toBeDefined();
  });

  it('keeps journaling after a save in the middle of a run', () => {
    const m = load();
    const run = m.newRunId();
    m.recordItem('parse', 'a.html', ok('ha', run));
    m.save();
    expect(existsSync(journalFile())).toBe(false);
    m.recordItem('parse', 'b.html', ok('hb', run));
    m.close(); // as good as a crash: nothing saved since
    expect(Object.keys(load().stage('parse')!.items!).sort()).toEqual(['a.html', 'b.html']);
  });

  it('writes a deferred run record only with the first change: a run that changes nothing saves nothing', () => {
    savedTwice();
    const text = read(manifestFile());
    const bak = read(`${manifestFile()}.bak`);
    const m = load();
    const idle = m.newRunId();
    m.deferRun(idle, RUN);
    m.recordRun(idle, { ...RUN, finished_at: '2026-11-22T10:16:00Z' });
    m.save();
    expect(read(manifestFile())).toBe(text);
    expect(read(`${manifestFile()}.bak`)).toBe(bak);
    expect(existsSync(journalFile())).toBe(false);

    const busy = m.newRunId();
    m.deferRun(busy, RUN);
    m.recordItem('parse', 'data/c.html', ok('xxh128:c', busy));
    m.close(); // crash: the journal holds the run record before the item that refers to it
    const again = load();
    expect(Object.keys(again.data.runs).sort()).toEqual(['r1', busy].sort());
    expect(again.stage('parse')!.items!['data/c.html'].run).toBe(busy);
  });

  it('keeps an item record when the same success comes again; a changed output or an old failure is rewritten', () => {
    const m = load();
    m.recordRun('r1', RUN);
    const first = { hash: 'xxh128:a', stage_hash: 's1', output: 'out/a.json', output_hash: 'xxh128:o', now: new Date('2026-11-22T10:15:00Z') };
    m.recordSuccess('parse', 'a.html', { ...first, run: 'r1' });
    m.recordFailure('parse', 'b.html', { hash: 'xxh128:b', stage_hash: 's1', reason: 'boom', run: 'r1' });
    m.save();
    const text = read(manifestFile());

    const again = load();
    const run = again.newRunId();
    again.deferRun(run, RUN);
    again.recordSuccess('parse', 'a.html', { ...first, run, now: new Date('2026-11-23T09:00:00Z') });
    again.save();
    expect(read(manifestFile()), 'nothing journaled, nothing saved').toBe(text);
    expect(existsSync(journalFile())).toBe(false);

    again.recordSuccess('parse', 'b.html', { hash: 'xxh128:b', stage_hash: 's1', output: 'out/b.json', output_hash: 'xxh128:p', run });
    again.recordSuccess('parse', 'a.html', { ...first, output_hash: 'xxh128:o2', run });
    again.save();
    const items = load().stage('parse')!.items!;
    expect(items['b.html']).toMatchObject({ status: 'success', run });
    expect(items['a.html']).toMatchObject({ output_hash: 'xxh128:o2', run });
  });

  it('ignores a torn last line', () => {
    const line = (item: string) => JSON.stringify({ op: 'item', stage: 'parse', item, rec: ok('h') });
    mkdirSync(join(root, '.dvcl'));
    const header = JSON.stringify({ op: 'open', pid: 999999999, host: hostname(), started_at: 'x' });
    writeFileSync(journalFile(), `${header}\n${line('a.html')}\n${line('b.html').slice(0, 40)}`);
    const m = load();
    expect(Object.keys(m.stage('parse')!.items!)).toEqual(['a.html']);
    expect(warnings.join('\n')).not.toMatch(/unreadable/);
    expect(existsSync(journalFile())).toBe(false);
  });

  // Issue 11, point 10: a torn line must never swallow the record written after it.
  it('after an append cut short (a short write, then ENOSPC), the next record is kept whole', () => {
    const m = load();
    const run = m.newRunId();
    m.recordItem('parse', 'a.html', ok('ha', run));
    const realWriteSync = fs.writeSync;
    let calls = 0;
    const spy = vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, buf: Buffer, off: number) => {
      if (++calls > 1) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return realWriteSync(fd, buf, off, 25); // the disk takes what fits
    }) as typeof fs.writeSync);
    expect(thrown(() => m.recordItem('parse', 'b.html', ok('hb', run))).message).toMatch(/cannot write the journal .*ENOSPC/);
    spy.mockRestore();
    m.recordItem('parse', 'c.html', ok('hc', run)); // there is room again
    m.close(); // crash
    const after = load();
    expect(Object.keys(after.stage('parse')!.items!).sort()).toEqual(['a.html', 'c.html']);
    expect(warnings.join('\n')).not.toMatch(/unreadable/);
  });

  it('a journal left ending in a torn line: what is appended to it starts on a line of its own', () => {
    const line = (item: string) => JSON.stringify({ op: 'item', stage: 'parse', item, rec: ok('h') });
    mkdirSync(join(root, '.dvcl'));
    const header = JSON.stringify({ op: 'open', pid: 999999999, host: hostname(), started_at: 'x' });
    writeFileSync(journalFile(), `${header}\n${line('a.html')}\n${line('b.html').slice(0, 40)}`);
    const w = new JournalWriter(journalFile());
    w.append({ op: 'item', stage: 'parse', item: 'c.html', rec: ok('hc') });
    w.close();
    const lines = read(journalFile()).split('\n');
    expect(lines.at(-1)).toBe('');
    const unreadable = lines.slice(0, -1).filter((l) => { try { JSON.parse(l); return false; } catch { return true; } });
    expect(unreadable, 'only the torn line is unreadable, and it is not glued to the next').toEqual([line('b.html').slice(0, 40)]);
    expect(readJournal(journalFile())!.ops.map((o) => (o as { item: string }).item)).toEqual(['a.html', 'c.html']);

    // One that ends with a whole line is continued as it is.
    const again = new JournalWriter(journalFile());
    again.append({ op: 'item', stage: 'parse', item: 'd.html', rec: ok('hd') });
    again.close();
    expect(read(journalFile()).split('\n').slice(0, -1)).not.toContain('');
    expect(readJournal(journalFile())!.ops).toHaveLength(3);
  });

  it('does not journal before a run starts, and journals nothing with journalDir null', () => {
    const m = load();
    m.recordItem('parse', 'a.html', ok('h'));
    expect(existsSync(journalFile())).toBe(false);
    const n = load({ journalDir: null });
    n.newRunId();
    n.recordItem('parse', 'a.html', ok('h'));
    expect(existsSync(join(root, '.dvcl'))).toBe(false);
  });

  it("leaves a live run's journal to it: shows its items, does not fold or delete it", async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      mkdirSync(join(root, '.dvcl'));
      const header = JSON.stringify({ op: 'open', pid: child.pid, host: hostname(), started_at: 'x' });
      const item = JSON.stringify({ op: 'item', stage: 'parse', item: 'a.html', rec: ok('h') });
      writeFileSync(journalFile(), `${header}\n${item}\n`);
      const m = load();
      expect(m.liveRunPid).toBe(child.pid);
      expect(m.stage('parse')!.items!['a.html']).toBeDefined();
      expect(existsSync(journalFile())).toBe(true);
      expect(existsSync(manifestFile())).toBe(false);
      expect(thrown(() => m.newRunId()).code).toBe('busy');
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('recovery', () => {
  it('restores a corrupt manifest from .bak with a warning and keeps the corrupt file aside', () => {
    savedTwice();
    const bak = read(`${manifestFile()}.bak`);
    writeFileSync(manifestFile(), '{"version": 1, "stages": {');
    const m = load();
    expect(Object.keys(m.stage('parse')!.items!)).toEqual(['data/a.html']);
    expect(warnings.join('\n')).toMatch(/\.manifest\.json was corrupt \(invalid JSON.*restored it from .*\.manifest\.json\.bak.*kept as .*corrupt-/);
    const aside = readdirSync(root).filter((f) => f.startsWith('.manifest.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(read(join(root, aside[0]))).toBe('{"version": 1, "stages": {');
    expect(read(manifestFile())).toBe(bak);
    expect(read(`${manifestFile()}.bak`)).toBe(bak);
  });

  it('treats valid JSON of the wrong shape as corrupt', () => {
    savedTwice();
    writeFileSync(manifestFile(), JSON.stringify({ version: 1, stages: { parse: { status: 'success', items: [] } }, runs: {} }));
    const m = load();
    expect(warnings.join('\n')).toMatch(/stages\.parse\.items: expected an object/);
    expect(m.stage('parse')!.items!['data/a.html']).toBeDefined();
  });

  it('fails with exit 2 when the manifest and its backup are both unusable, touching nothing', () => {
    writeFileSync(manifestFile(), 'not json');
    writeFileSync(`${manifestFile()}.bak`, '{"version": 1, "stages": 3}');
    const e = thrown(() => load());
    expect(e.code).toBe('corrupt');
    expect(e.exit).toBe(2);
    expect(e.message).toMatch(/\.manifest\.json is corrupt .* backup .*unusable too \(stages: expected an object\)/);
    expect(e.suggestions.join(' ')).toMatch(/git checkout -- \.manifest\.json/);
    expect(readdirSync(root).sort()).toEqual(['.manifest.json', '.manifest.json.bak']);
  });

  it('says so when a merge left conflict markers', () => {
    writeFileSync(manifestFile(), '{\n<<<<<<< HEAD\n  "version": 1\n=======\n>>>>>>> b\n}\n');
    const e = thrown(() => load());
    expect(e.message).toMatch(/conflict markers/);
    expect(e.suggestions.join(' ')).toMatch(/dvcl init/);
  });

  it('refuses another version with exit 2, without restoring the backup', () => {
    savedTwice();
    const newer = '{"version": 2, "stages": "whatever"}\n';
    writeFileSync(manifestFile(), newer);
    const e = thrown(() => load());
    expect(e.code).toBe('corrupt');
    expect(e.exit).toBe(2);
    expect(e.message).toMatch(/\.manifest\.json: manifest version 2 is not supported .*newer dvcl.*not restored/);
    expect(read(manifestFile())).toBe(newer);
    expect(readdirSync(root).filter((f) => f.includes('corrupt'))).toEqual([]);
  });

  it('treats an empty file as empty, or restores the backup when there is one', () => {
    writeFileSync(manifestFile(), '');
    expect(load().data.stages).toEqual({});
    expect(warnings[0]).toMatch(/empty/);
    savedTwice();
    writeFileSync(manifestFile(), '\n');
    expect(load().stage('parse')!.items!['data/a.html']).toBeDefined();
  });

  it('starts empty when there is no file, and writes nothing until saved', () => {
    const m = load();
    expect(m.data).toEqual({ version: 1, stages: {}, runs: {} });
    expect(readdirSync(root)).toEqual([]);
  });

  it('reads a corrupt manifest read-only from the backup without changing any file', () => {
    savedTwice();
    writeFileSync(manifestFile(), 'garbage');
    const m = load({ readOnly: true });
    expect(m.stage('parse')!.items!['data/a.html']).toBeDefined();
    expect(read(manifestFile())).toBe('garbage');
    expect(readdirSync(root).sort()).toEqual(['.manifest.json', '.manifest.json.bak']);
  });
});

describe('save errors', () => {
  it('throws an io error naming the path when the folder cannot be written', () => {
    const m = load({ file: 'sub/.manifest.json' });
    m.recordItem('parse', 'a.html', ok('h'));
    writeFileSync(join(root, 'sub'), 'a file where the folder should be');
    const e = thrown(() => m.save());
    expect(e.code).toBe('io');
    expect(e.message).toContain(join('sub', '.manifest.json'));
  });

  it('leaves the previous file intact when the write fails half-way', () => {
    savedTwice();
    const before = read(manifestFile());
    const m = load();
    m.recordItem('parse', 'data/z.html', ok('z'));
    vi.spyOn(fs, 'fsyncSync').mockImplementation(() => { throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }); });
    const e = thrown(() => m.save());
    expect(e.code).toBe('io');
    expect(e.message).toMatch(/\.manifest\.json .*unchanged.*EIO/);
    expect(read(manifestFile())).toBe(before);
    expect(readdirSync(root).sort()).toEqual(['.manifest.json', '.manifest.json.bak']); // no temporary file left
  });

  it('leaves the previous file intact when the backup cannot be written', () => {
    savedTwice();
    const before = read(manifestFile());
    rmSync(`${manifestFile()}.bak`);
    mkdirSync(join(`${manifestFile()}.bak`, 'x'), { recursive: true });
    const m = load();
    m.recordItem('parse', 'data/z.html', ok('z'));
    expect(thrown(() => m.save()).code).toBe('io');
    expect(read(manifestFile())).toBe(before);
  });
});

describe('statistics and pruning', () => {
  let m: Manifest;
  beforeEach(() => {
    m = load({ journalDir: null });
    m.recordItem('parse', 'a', ok('ha'));
    m.recordItem('parse', 'b', failed('hb', 1));
    m.recordItem('parse', 'c', failed('hc', 3, 'r2'));
    m.recordItem('parse', 'gone', ok('hg'));
  });

  it('counts recorded items, present items, and present items with their hashes', () => {
    expect(m.statistics('parse', undefined, 3)).toEqual({ total: 4, success: 2, failed: 2, pending: 0, given_up: 1 });
    expect(m.statistics('parse', ['a', 'b', 'c', 'new'])).toEqual({ total: 4, success: 1, failed: 2, pending: 1, given_up: 0 });
    const present = new Map([['a', { hash: 'changed' }], ['b', { hash: 'hb' }]]);
    expect(m.statistics('parse', present, 1)).toEqual({ total: 2, success: 0, failed: 1, pending: 1, given_up: 1 });
    expect(m.statistics('nope')).toEqual({ total: 0, success: 0, failed: 0, pending: 0, given_up: 0 });
  });

  it('prunes run records nothing refers to', () => {
    m.recordRun('r1', RUN);
    m.recordRun('r2', RUN);
    m.recordRun('r3', RUN);
    m.recordRun('r0', RUN);
    m.recordStage('prepare', { status: 'success', run: 'r3' });
    expect(m.pruneRuns()).toEqual(['r0']);
    m.removeItems('parse', ['c']);
    expect(m.pruneRuns()).toEqual(['r2']);
    m.removeStage('prepare');
    expect(m.pruneRuns(['r3'])).toEqual([]); // e.g. a run the lock still refers to
    expect(m.pruneRuns()).toEqual(['r3']);
    expect(Object.keys(m.data.runs)).toEqual(['r1']);
  });

  it('keeps items when the stage record is replaced', () => {
    m.recordStage('parse', { status: 'success', run: 'r9' });
    expect(Object.keys(m.stage('parse')!.items!)).toHaveLength(4);
    expect(m.stage('parse')!.run).toBe('r9');
  });
});
