// LockFile writes pipeline.lock from per-entry texts: the bytes must be serializeLock's, always.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LockFile } from '../src/core/ledger/lock-file.js';
import { LOCK_FILE, parseLock, serializeLock, type LockEntry } from '../src/core/ledger/lock.js';

const dirs: string[] = [];
afterEach(() => { while (dirs.length) fs.rmSync(dirs.pop()!, { recursive: true, force: true }); });

function project(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-lockfile-'));
  dirs.push(dir);
  return dir;
}

const shared = ['python', 'fit.py', '--lr', '0.1'];
function entry(i: number): LockEntry {
  const kinds: Partial<LockEntry>[] = [
    { cmd: `cp in/${i} out/${i}` },
    { cmd: 'printf "a\\nb" |\n  tee x\n\n  # trailing\n', wdir: 'sub dir', env: { B: '1', A: 'x: y' } },
    { cmd: shared, params: { 'params.yaml': { lr: 0.1, big: 9007199254740993n, nan: NaN, list: [1, { z: 1, a: 2 }] } } },
    { cmd: '  leading spaces', out: 'o/${stem}.json', items: { count: 3, hash: 'xxh128:ab' } },
  ];
  return {
    cmd: 'x', deps: [{ path: `z${i}`, hash: 'xxh128:01', size: 1 }, { path: 'a: b', hash: 'md5:02', size: 2, nfiles: 4 }],
    params: {}, outs: [{ path: `out/${i}`, hash: 'xxh128:03', size: 3 }],
    git: { commit: i % 2 ? 'abc' : null, branch: i % 2 ? 'main' : null, dirty: i % 2 ? false : null }, run: `r${i}`,
    ...kinds[i % kinds.length],
  } as LockEntry;
}

const NAMES = ['b', 'a', 'constructor', '__proto__', 'é-stage', 'A_1', '10', 'zz'];

describe('LockFile', () => {
  it('writes the bytes serializeLock writes, through sets, replacements and removals', () => {
    const root = project();
    const lf = LockFile.read(root);
    const expectOnDisk = () => expect(fs.readFileSync(path.join(root, LOCK_FILE), 'utf8')).toBe(serializeLock(parseLock(fs.readFileSync(path.join(root, LOCK_FILE), 'utf8'))));
    NAMES.forEach((n, i) => {
      lf.set(n, entry(i));
      expect(lf.text()).toBe(serializeLock(lf.data));
      expectOnDisk();
    });
    lf.set('a', entry(7)); // an entry replaced: its old text must not survive
    expect(fs.readFileSync(path.join(root, LOCK_FILE), 'utf8')).toBe(serializeLock(lf.data));
    expect(fs.readFileSync(path.join(root, LOCK_FILE), 'utf8')).toContain('run: r7');
    lf.remove(['b', '10', 'nope']);
    lf.set('zz', null);
    expect(fs.readFileSync(path.join(root, LOCK_FILE), 'utf8')).toBe(serializeLock(lf.data));
    expect(Object.keys(parseLock(fs.readFileSync(path.join(root, LOCK_FILE), 'utf8')).stages).sort()).toEqual(['A_1', '__proto__', 'a', 'constructor', 'é-stage']);
    lf.remove(Object.keys(lf.data.stages));
    expect(fs.readFileSync(path.join(root, LOCK_FILE), 'utf8')).toBe(serializeLock(lf.data));
  });

  it('one object in two entries is written out twice, never as a YAML alias', () => {
    const root = project();
    const lf = LockFile.read(root);
    lf.set('one', entry(2));
    lf.set('two', entry(2));
    const text = fs.readFileSync(path.join(root, LOCK_FILE), 'utf8');
    expect(text).toBe(serializeLock(lf.data));
    expect(text).not.toMatch(/[&*]a\d/);
  });

  it('reads what it wrote, entry for entry', () => {
    const root = project();
    const lf = LockFile.read(root);
    NAMES.forEach((n, i) => lf.set(n, entry(i)));
    const again = LockFile.read(root);
    expect(serializeLock(again.data)).toBe(lf.text());
  });
});

describe('LockFile.coalesce', () => {
  const onDisk = (root: string) => Object.keys(parseLock(fs.readFileSync(path.join(root, LOCK_FILE), 'utf8')).stages).sort();

  it('writes the first change at once, later ones within the interval, and the rest on flush', async () => {
    const root = project();
    const lf = LockFile.read(root);
    lf.coalesce(150);
    lf.set('a', entry(0));
    expect(onDisk(root)).toEqual(['a']);
    lf.set('b', entry(1));
    expect(onDisk(root)).toEqual(['a']); // within the interval: held
    await new Promise((r) => setTimeout(r, 400));
    expect(onDisk(root)).toEqual(['a', 'b']); // written by the timer, with no further change
    lf.set('c', entry(2));
    lf.flush();
    expect(onDisk(root)).toEqual(['a', 'b', 'c']);
    expect(fs.readFileSync(path.join(root, LOCK_FILE), 'utf8')).toBe(serializeLock(lf.data));
  });

  it('a write that fails in the timer is thrown by the next flush, not lost', async () => {
    const root = project();
    const lf = LockFile.read(root);
    lf.coalesce(100);
    lf.set('a', entry(0));
    lf.set('b', entry(1));
    fs.rmSync(root, { recursive: true, force: true });
    await new Promise((r) => setTimeout(r, 300));
    expect(() => lf.flush()).toThrow(/cannot write pipeline\.lock/);
  });
});
