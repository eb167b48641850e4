import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { blake3, xxhash128 } from 'hash-wasm';
import { afterEach, describe, expect, it } from 'vitest';
import { Hasher } from '../src/core/hashing/hash.js';
import { algorithmOf, HASH_ALGORITHMS, type HashAlgorithm } from '../src/core/hashing/algorithms.js';
import type { ItemRecord } from '../src/core/ledger/manifest.js';
import { isUndecodable, showBytes } from '../src/core/hashing/raw-names.js';
import { itemsHash } from '../src/core/status/status.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A temp project with `files` written in the given order. */
function project(files: Record<string, string | Buffer> = {}): string {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-hash-')));
  dirs.push(root);
  for (const [rel, content] of Object.entries(files)) write(root, rel, content);
  return root;
}

function write(root: string, rel: string, content: string | Buffer): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), content);
}

/** Let just-written files leave the racy window (20 ms on a ns-timestamp filesystem). */
const settle = () => new Promise((r) => setTimeout(r, 60));

const open = (root: string, algorithm?: HashAlgorithm) => Hasher.open({ root, algorithm });
const cacheFile = (root: string, algo = 'xxh128') => path.join(root, '.dvcl', 'cache', `stat-${algo}`);
const digest = (algo: string, data: Buffer | string) => createHash(algo).update(data).digest('hex');

describe('file hashes', () => {
  // 300 KiB + 7 bytes: several read chunks and a short tail.
  const big = Buffer.alloc(300 * 1024 + 7, 0);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;

  it('are algo:hex of the content, for every algorithm', async () => {
    const root = project({ 'small.txt': 'hello dvcl\n', 'big.bin': big, 'empty': '' });
    const expected: Record<HashAlgorithm, (d: Buffer | string) => Promise<string> | string> = {
      xxh128: (d) => xxhash128(d),
      blake3: (d) => blake3(d),
      sha256: (d) => digest('sha256', d),
      md5: (d) => digest('md5', d),
    };
    for (const algo of HASH_ALGORITHMS) {
      const h = await open(root, algo);
      expect(h.algorithm).toBe(algo);
      for (const [rel, data] of [['small.txt', 'hello dvcl\n'], ['big.bin', big], ['empty', '']] as const) {
        expect(h.hash(rel)).toEqual({ hash: `${algo}:${await expected[algo](data)}`, size: data.length, isDir: false });
      }
      expect(h.stats.bytesRead).toBe(11 + big.length);
    }
  });

  it('match published values', async () => {
    const root = project({ 'small.txt': 'hello dvcl\n', empty: '' });
    const x = await open(root, 'xxh128');
    expect(x.hash('empty')?.hash).toBe('xxh128:99aa06d3014798d86001c324468d497f');
    expect(x.hash('small.txt')?.hash).toBe('xxh128:00091bc8803a47e0406c263d07b7f240');
    expect((await open(root, 'sha256')).hash('small.txt')?.hash).toBe(`sha256:${digest('sha256', 'hello dvcl\n')}`);
    expect((await open(root, 'md5')).hash('small.txt')?.hash).toBe(`md5:${digest('md5', 'hello dvcl\n')}`);
    expect((await open(root, 'blake3')).hash('empty')?.hash).toBe(
      'blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262',
    );
    expect(x.hashString('hello dvcl\n')).toBe('xxh128:00091bc8803a47e0406c263d07b7f240');
  });

  it('of a sequence of strings (hashParts) are the hash of their concatenation, pieces cut anywhere', async () => {
    const h = await Hasher.open({ root: project(), stateDir: null });
    const emoji = '\u{1F600}'; // a surrogate pair in UTF-16, 4 bytes in UTF-8
    const cases: string[][] = [
      [],
      [''],
      ['one', 'two', 'ü €'],
      // 64 Ki characters and the first half of a pair, then its second half: a piece ends between them.
      ['a'.repeat(64 * 1024 - 1) + emoji[0], emoji[1] + 'b'],
      Array.from({ length: 20_000 }, (_, i) => `line ${i} ${i % 7 ? 'é' : emoji}\n`),
      ['\ud83d', 'lone surrogates', '\ude00'],
    ];
    for (const parts of cases) expect(h.hashParts(parts)).toBe(h.hashString(parts.join('')));
  });

  it('are null for a missing path or a dangling symlink', async () => {
    const root = project({ 'a.txt': 'a' });
    fs.symlinkSync('nowhere', path.join(root, 'dangling'));
    const h = await open(root);
    expect(h.hash('missing.txt')).toBeNull();
    expect(h.hash('a.txt/below')).toBeNull();
    expect(h.hash('dangling')).toBeNull();
  });

  it.skipIf(process.getuid?.() === 0)('throw an Error naming an unreadable file', async () => {
    const root = project({ 'secret.txt': 'x' });
    fs.chmodSync(path.join(root, 'secret.txt'), 0o000);
    const h = await open(root);
    expect(() => h.hash('secret.txt')).toThrow(/secret\.txt/);
  });

  it('refuse paths outside the root', async () => {
    const h = await open(project());
    expect(() => h.hash('../etc/passwd')).toThrow(/outside|not inside/);
  });
});

describe('itemsHash (the items.hash of a per-item lock entry)', () => {
  const rec = (output_hash?: string): ItemRecord => ({ status: 'success', hash: 'xxh128:i', attempts: 1, run: 'r', ...(output_hash ? { output_hash } : {}) });

  it('is the hash of one line per present item, as it always was', async () => {
    const h = await Hasher.open({ root: project(), stateDir: null });
    const present = [{ item: 'in/a.txt', hash: 'xxh128:1' }, { item: 'in/ü €.txt', hash: 'xxh128:2' }, { item: 'in/\u{1F600}.txt', hash: 'xxh128:3' }];
    const items = { 'in/a.txt': rec('xxh128:o1'), 'in/\u{1F600}.txt': rec('xxh128:o3'), 'in/ü €.txt': rec() };
    // Recorded in pipeline.lock files: it must never change for the same items.
    expect(itemsHash(h, present, items)).toBe('xxh128:9f540c88825e2ea298f3ec04ea8ad88c');
  });

  it('equals the hash of all the lines joined, for 100,000 items', async () => {
    const h = await Hasher.open({ root: project(), stateDir: null });
    const present = Array.from({ length: 100_000 }, (_, i) => ({ item: `in/${i % 3 ? 'é' : '\u{1F600}'}${i}.txt`, hash: `xxh128:${i}` }));
    const items: Record<string, ItemRecord> = {};
    for (const [i, p] of present.entries()) if (i % 5) items[p.item] = rec(i % 2 ? `xxh128:o${i}` : undefined);
    const joined = present.map((p) => `${p.item}\0${p.hash}\0${items[p.item]?.output_hash ?? ''}\n`).join('');
    expect(itemsHash(h, present, items)).toBe(h.hashString(joined));
  });
});

describe('directory hashes', () => {
  const files = { 'a.txt': 'alpha', 'sub/b.txt': 'bravo', 'sub/deeper/c.txt': 'charlie', 'a.b': 'x' };

  it('follow the documented serialization, sorted by relative path', async () => {
    const root = project(Object.fromEntries(Object.entries(files).map(([k, v]) => [`data/${k}`, v])));
    const h = await open(root);
    const rels = Object.keys(files).sort();
    const listing = rels.map((r) => `${r}\0${h.hash(`data/${r}`)!.hash}\n`).join('');
    expect(h.hash('data')).toEqual({ hash: h.hashString(listing), size: 5 + 5 + 7 + 1, nfiles: 4, isDir: true });
    // Plain code-unit order: 'a.b' < 'a.txt' < 'sub/b.txt' < 'sub/deeper/c.txt'.
    expect(rels).toEqual(['a.b', 'a.txt', 'sub/b.txt', 'sub/deeper/c.txt']);
  });

  it('do not depend on creation order or on the directory name', async () => {
    const entries = Object.entries(files);
    const one = project(Object.fromEntries(entries.map(([k, v]) => [`d1/${k}`, v])));
    const two = project(Object.fromEntries(entries.reverse().map(([k, v]) => [`other/${k}`, v])));
    expect((await open(one)).hash('d1')).toEqual((await open(two)).hash('other'));
  });

  it('change when a file changes, is renamed, added or removed', async () => {
    const root = project(Object.fromEntries(Object.entries(files).map(([k, v]) => [`data/${k}`, v])));
    const seen = new Set<string>();
    const hashNow = async () => {
      const r = (await open(root)).hash('data')!;
      expect(seen.has(r.hash)).toBe(false);
      seen.add(r.hash);
      return r;
    };
    await hashNow();
    write(root, 'data/sub/b.txt', 'BRAVO');
    await hashNow();
    fs.renameSync(path.join(root, 'data/sub/b.txt'), path.join(root, 'data/sub/b2.txt'));
    await hashNow();
    write(root, 'data/new.txt', 'new!');
    expect(await hashNow()).toMatchObject({ nfiles: 5, size: 5 + 5 + 7 + 1 + 4 });
    fs.rmSync(path.join(root, 'data/a.txt'));
    expect(await hashNow()).toMatchObject({ nfiles: 4, size: 5 + 7 + 1 + 4 });
  });

  it('of an empty directory have nfiles 0; empty subdirectories do not count', async () => {
    const root = project();
    fs.mkdirSync(path.join(root, 'empty'));
    fs.mkdirSync(path.join(root, 'nested/inner'), { recursive: true });
    const h = await open(root);
    expect(h.hash('empty')).toEqual({ hash: h.hashString(''), size: 0, nfiles: 0, isDir: true });
    expect(h.hash('nested/')).toEqual(h.hash('./empty'));
  });

  it('skip .git and .dvcl folders', async () => {
    const root = project({ 'data/a.txt': 'a' });
    const h = await open(root);
    const before = h.hash('data');
    write(root, 'data/.git/HEAD', 'ref: x');
    write(root, 'data/.dvcl/cache/x', 'y');
    expect(h.hash('data')).toEqual(before);
    write(root, 'data/.gitignore', 'z'); // only those two names are skipped
    expect(h.hash('data')!.nfiles).toBe(2);
  });

  it('follow symlinks inside the root, record links out of it by their target', async () => {
    const root = project({ 'data/a.txt': 'a', 'shared/s.txt': 'shared' });
    const outside = project({ 'o.txt': 'outside' });
    fs.symlinkSync('../shared/s.txt', path.join(root, 'data/file-link'));
    fs.symlinkSync('../shared', path.join(root, 'data/dir-link'));
    fs.symlinkSync(outside, path.join(root, 'data/out-link'));
    fs.symlinkSync('..', path.join(root, 'data/loop')); // back to an ancestor: a cycle
    const h = await open(root);
    const r = h.hash('data')!;
    const s = h.hash('shared/s.txt')!.hash;
    const listing = [
      `a.txt\0${h.hash('data/a.txt')!.hash}\n`,
      `dir-link/s.txt\0${s}\n`,
      `file-link\0${s}\n`,
      `loop\0link:"${'..'}"\n`,
      `out-link\0link:${JSON.stringify(outside)}\n`,
    ].join('');
    expect(r).toEqual({ hash: h.hashString(listing), size: 1 + 6 + 6, nfiles: 5, isDir: true });
    write(outside, 'o.txt', 'changed outside'); // never read
    expect(h.hash('data')).toEqual(r);
  });
});

describe('stat cache', () => {
  it('answers unchanged files without reading them, across save() and a new open()', async () => {
    const root = project({ 'data/a.txt': 'a', 'data/b.txt': 'b', 'c.txt': 'c' });
    await settle();
    const first = await open(root);
    const dirHash = first.hash('data');
    first.hash('c.txt');
    expect(first.stats).toEqual({ hashedFiles: 3, cachedFiles: 0, bytesRead: 3 });
    first.save();
    expect(fs.existsSync(cacheFile(root))).toBe(true);

    const second = await open(root);
    expect(second.hash('data')).toEqual(dirHash);
    second.hash('c.txt');
    expect(second.stats).toEqual({ hashedFiles: 0, cachedFiles: 3, bytesRead: 0 });

    write(root, 'data/b.txt', 'B'); // same size, new mtime/ctime
    await settle();
    const third = await open(root);
    expect(third.hash('data')!.hash).not.toBe(dirHash!.hash);
    expect(third.stats).toMatchObject({ hashedFiles: 1, cachedFiles: 1 });
  });

  it('is per algorithm, and in memory only with stateDir null', async () => {
    const root = project({ 'a.txt': 'a' });
    await settle();
    const x = await open(root, 'xxh128');
    x.hash('a.txt');
    x.save();
    const md5 = await open(root, 'md5');
    expect(md5.hash('a.txt')!.hash).toBe(`md5:${digest('md5', 'a')}`);
    expect(md5.stats.hashedFiles).toBe(1);

    const mem = await Hasher.open({ root, algorithm: 'sha256', stateDir: null });
    mem.hash('a.txt');
    mem.save();
    expect(fs.existsSync(cacheFile(root, 'sha256'))).toBe(false);
  });

  it("answers a recorded hash's algorithm with a hasher of it, each with its own cache (settings.hash switched)", async () => {
    const root = project({ 'a.txt': 'a', 'd/b.txt': 'b' });
    await settle();
    const old = await open(root, 'xxh128');
    const recorded = { file: old.hash('a.txt')!.hash, dir: old.hash('d')!.hash };
    old.save();
    const h = await Hasher.open({ root, algorithm: 'sha256', also: ['xxh128', 'sha256'] });
    expect(h.for(undefined)).toBe(h);
    expect(h.for('sha256:00')).toBe(h);
    expect(h.for('nope:00')).toBe(h); // unknown: compared with a configured hash, so it differs
    expect(h.for('md5:00')).toBe(h); // not loaded: likewise
    const x = h.for(recorded.file);
    expect(x.algorithm).toBe('xxh128');
    expect(x.hash('a.txt')!.hash).toBe(recorded.file);
    expect(x.hash('d')!.hash).toBe(recorded.dir); // the tree hash too, over xxh128 file hashes
    expect(x.stats).toMatchObject({ hashedFiles: 0, cachedFiles: 2 }); // from the xxh128 cache
    expect(h.hash('a.txt')!.hash).toBe(`sha256:${digest('sha256', 'a')}`);
    h.save(); // both caches
    expect(fs.existsSync(cacheFile(root, 'sha256'))).toBe(true);
    const again = await Hasher.open({ root, algorithm: 'sha256' });
    expect(again.hash('a.txt')!.hash).toBe(`sha256:${digest('sha256', 'a')}`);
    expect(again.stats.cachedFiles).toBe(1);
    expect([algorithmOf(recorded.file), algorithmOf('sha256:00'), algorithmOf('nope:00'), algorithmOf('')]).toEqual(['xxh128', 'sha256', null, null]);
  });

  it('does not trust an entry recorded in the same tick as the file changed (racy-clean)', async () => {
    const root = project();
    write(root, 'a.txt', 'one');
    const h1 = await open(root); // hashed right after the write: inside the racy window
    h1.hash('a.txt');
    h1.save();
    await settle();
    const h2 = await open(root);
    h2.hash('a.txt');
    expect(h2.stats).toMatchObject({ hashedFiles: 1, cachedFiles: 0 });
    h2.save();
    const h3 = await open(root); // h2 hashed it after the window: now trusted
    h3.hash('a.txt');
    expect(h3.stats).toMatchObject({ hashedFiles: 0, cachedFiles: 1 });
  });

  it("re-hashes an entry whose file changed within the cache's save tick", async () => {
    const root = project({ 'a.txt': 'one' });
    await settle();
    const h1 = await open(root);
    const real = h1.hash('a.txt')!.hash;
    h1.save();
    // Forge the situation a coarse clock produces: the cache says 'two' for a stat that 'one' has,
    // i.e. the file was rewritten with the same size and stat after it was hashed.
    const text = fs.readFileSync(cacheFile(root), 'utf8');
    const stale = text.replace(real.slice('xxh128:'.length), 'f'.repeat(32));
    fs.writeFileSync(cacheFile(root), stale);
    const trusted = await open(root);
    expect(trusted.hash('a.txt')!.hash).toBe(`xxh128:${'f'.repeat(32)}`); // proves the cache is used
    // Same entry, but saved in the same tick as the file's last change: must be re-read.
    const ctime = fs.statSync(path.join(root, 'a.txt'), { bigint: true }).ctimeNs;
    fs.writeFileSync(cacheFile(root), stale.replace(/^(\S+\t1\t\S+\t)\d+/, `$1${ctime}`));
    const racy = await open(root);
    expect(racy.hash('a.txt')!.hash).toBe(real);
    expect(racy.stats).toMatchObject({ hashedFiles: 1, cachedFiles: 0 });
  });

  it('ignores a corrupt or truncated cache file', async () => {
    const root = project({ 'a.txt': 'a', 'b.txt': 'b' });
    await settle();
    const h = await open(root);
    const expected = [h.hash('a.txt'), h.hash('b.txt')];
    h.save();
    const good = fs.readFileSync(cacheFile(root));
    for (const bad of [Buffer.from('\0\xff garbage'), good.subarray(0, good.length - 10), Buffer.alloc(0)]) {
      fs.writeFileSync(cacheFile(root), bad);
      const again = await open(root);
      expect([again.hash('a.txt'), again.hash('b.txt')]).toEqual(expected);
      expect(again.stats.hashedFiles).toBe(2);
    }
  });

  it('keeps paths with tabs and newlines intact', async () => {
    const names = ['tab\there.txt', 'new\nline.txt', '"quoted".txt'];
    const root = project(Object.fromEntries(names.map((n) => [n, n])));
    await settle();
    const h = await open(root);
    const hashes = names.map((n) => h.hash(n));
    h.save();
    const again = await open(root);
    expect(names.map((n) => again.hash(n))).toEqual(hashes);
    expect(again.stats.cachedFiles).toBe(3);
  });

  it('keeps entries not looked up, drops files gone from a walked directory', async () => {
    const root = project({ 'data/a.txt': 'a', 'data/b.txt': 'b', 'other.txt': 'o' });
    await settle();
    const h1 = await open(root);
    h1.hash('data');
    h1.hash('other.txt');
    h1.save();
    fs.rmSync(path.join(root, 'data/b.txt'));
    const h2 = await open(root);
    h2.hash('data');
    h2.save();
    const cached = fs.readFileSync(cacheFile(root), 'utf8');
    expect(cached).toContain('data/a.txt\t');
    expect(cached).toContain('other.txt\t');
    expect(cached).not.toContain('data/b.txt');
  });

  it('answers lookups in any order, and repeated ones, from the loaded file', async () => {
    const names = ['a.txt', 'b.txt', 'c.txt', 'd.txt', 'e.txt'];
    const root = project(Object.fromEntries(names.map((n) => [n, n])));
    await settle();
    const first = await open(root);
    const hashes = names.map((n) => first.hash(n));
    first.save();
    const again = await open(root);
    const order = ['c.txt', 'd.txt', 'a.txt', 'e.txt', 'b.txt', 'b.txt', 'a.txt', 'b.txt', 'c.txt', 'd.txt', 'e.txt'];
    for (const n of order) expect(again.hash(n)).toEqual(hashes[names.indexOf(n)]);
    expect(again.stats).toMatchObject({ hashedFiles: 0, cachedFiles: order.length });
  });

  it('reads a changed file once in a run, however often it is looked up', async () => {
    const root = project({ 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c' });
    await settle();
    const first = await open(root);
    for (const n of ['a.txt', 'b.txt', 'c.txt']) first.hash(n);
    first.save();
    write(root, 'b.txt', 'B');
    await settle();
    const h = await open(root);
    // In the order of the file, twice: the second time, b's line in the file is out of date.
    for (const n of ['a.txt', 'b.txt', 'c.txt', 'a.txt', 'b.txt', 'c.txt']) h.hash(n);
    expect(h.hash('b.txt')!.hash).toBe(h.hashString('B'));
    expect(h.stats).toMatchObject({ hashedFiles: 1, cachedFiles: 6 });
  });

  it('takes the last line of a path the file lists twice, and trusts a file only when its count matches', async () => {
    const root = project({ 'a.txt': 'a' });
    await settle();
    const h1 = await open(root);
    const real = h1.hash('a.txt')!.hash;
    h1.save();
    const [head, line] = fs.readFileSync(cacheFile(root), 'utf8').split('\n');
    const hex = real.slice('xxh128:'.length);
    const twice = (count: number) => `${head.replace(/\t1$/, `\t${count}`)}\n${line.replace(hex, 'e'.repeat(32))}\n${line.replace(hex, 'f'.repeat(32))}\n`;
    fs.writeFileSync(cacheFile(root), twice(1)); // one path: the count is right
    expect((await open(root)).hash('a.txt')!.hash).toBe(`xxh128:${'f'.repeat(32)}`);
    fs.writeFileSync(cacheFile(root), twice(2)); // two lines, one path: not a file dvcl wrote
    expect((await open(root)).hash('a.txt')!.hash).toBe(real);
    // The same path quoted (as it would be with a tab in it) is the same path: on the first line, then the second.
    for (const last of ['e', 'f']) {
      const text = twice(1).replace(new RegExp(`\na\\.txt(\t[^\n]*${last}{32}\n)`), '\n"a.txt"$1');
      expect(text).toContain('"a.txt"');
      fs.writeFileSync(cacheFile(root), text);
      expect((await open(root)).hash('a.txt')!.hash).toBe(`xxh128:${'f'.repeat(32)}`);
    }
  });

  it('writes the entries it did not change back as they were', async () => {
    const root = project({ 'a.txt': 'a', 'tab\there.txt': 't', 'c.txt': 'c' });
    await settle();
    const first = await open(root);
    for (const n of ['a.txt', 'tab\there.txt', 'c.txt']) first.hash(n);
    first.save();
    const before = fs.readFileSync(cacheFile(root), 'utf8').split('\n');
    write(root, 'c.txt', 'C');
    await settle();
    const h = await open(root);
    for (const n of ['a.txt', 'tab\there.txt', 'c.txt']) h.hash(n);
    h.save();
    const after = fs.readFileSync(cacheFile(root), 'utf8').split('\n');
    expect(after.slice(1, 3)).toEqual(before.slice(1, 3));
    expect(after[3]).toMatch(/^c\.txt\t/);
    expect(after[3]).not.toBe(before[3]);
  });

  it('save() never throws when the state dir cannot be written', async () => {
    const root = project({ 'a.txt': 'a', blocker: 'a file where a directory should be' });
    await settle();
    const h = await Hasher.open({ root, stateDir: path.join(root, 'blocker', 'state') });
    h.hash('a.txt');
    expect(() => h.save()).not.toThrow();
  });
});

describe('showBytes (names that are not valid UTF-8)', () => {
  it('keeps valid UTF-8 as text and escapes every other byte', () => {
    expect(showBytes(Buffer.from([0xff, 0xfe, 0x2e, 0x74, 0x78, 0x74]))).toBe('\\xff\\xfe.txt');
    expect(showBytes(Buffer.from('é€😀\ufeff.txt'))).toBe('é€😀\ufeff.txt');
    expect(showBytes(Buffer.from([0x61, 0xe2, 0x82]))).toBe('a\\xe2\\x82'); // cut short
    expect(showBytes(Buffer.from([0xc0, 0x80, 0xed, 0xa0, 0x80]))).toBe('\\xc0\\x80\\xed\\xa0\\x80'); // overlong NUL, a lone surrogate
    expect(isUndecodable(Buffer.from('\ufffd.txt'))).toBe(false);
    expect(isUndecodable(Buffer.from([0xff, 0x2e]))).toBe(true);
  });
});
