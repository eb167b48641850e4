// One contract, both backends: what push/pull/gc rely on from an ObjectStore.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHasher, type HashAlgorithm } from '../../src/core/hashing/algorithms.js';
import { missingObjects } from '../../src/core/store/missing.js';
import { objectKey, objectPrefix, type ObjectSource, type ObjectStore } from '../../src/core/store/object-store.js';
import { openRemote } from '../../src/core/store/remote.js';
import { PART_SIZE } from '../../src/core/store/s3-store.js';
import { fetchObject, pushObject } from '../../src/core/store/transfer.js';
import { isUploadPart, type SeenRequest } from '../helpers/fault-proxy.js';
import { type FakeS3, startFakeS3 } from '../helpers/s3.js';

async function hashOf(data: Buffer, algorithm: HashAlgorithm = 'xxh128'): Promise<string> {
  return `${algorithm}:${(await createHasher(algorithm)).init().update(data).digest('hex')}`;
}

/** Every byte value, in a few orders, and some that are not patterned. */
function allBytes(n = 70_000): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 8)) & 0xff;
  return b;
}

const source = (data: Buffer): ObjectSource => ({ size: data.length, open: () => Readable.from([data]) });

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function listAll(store: ObjectStore, prefix: string) {
  const out = [];
  for await (const o of store.list(prefix)) out.push(o);
  return out.sort((a, b) => (a.key < b.key ? -1 : 1));
}

interface Backend {
  name: string;
  open(prefix?: string): Promise<ObjectStore>;
  /** Put many small objects into the last store opened, behind its back (set-up only, fast). */
  seed(keys: string[]): Promise<void>;
  /** Bytes of the big-object test: multipart matters on S3 only, the folder streams the same at any size. */
  bigMiB: number;
  /** The requests the remote received since the last open, when it is one that can count them. */
  requests(): SeenRequest[] | null;
}

let tmp: string;
let s3: FakeS3;

beforeAll(async () => {
  // A space and non-ASCII letters in every path the folder backend and the transfers touch.
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl store ü-'));
  s3 = await startFakeS3();
});
afterAll(async () => {
  await s3?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

let opened: ObjectStore[] = [];
afterEach(async () => {
  for (const s of opened) await s.close();
  opened = [];
  s3.empty();
});

let folders = 0;
let lastFolder = '';
let lastBucket = '';
const S3_PREFIX = 'team data/ünïcode prefix';
const backends: Backend[] = [
  {
    name: 'folder',
    async open() {
      lastFolder = path.join(tmp, `remote ✓ ${++folders}`);
      fs.mkdirSync(lastFolder);
      const store = await openRemote(lastFolder, {}, { cwd: tmp });
      opened.push(store);
      return store;
    },
    async seed(keys) {
      for (const key of keys) {
        fs.mkdirSync(path.dirname(path.join(lastFolder, key)), { recursive: true });
        fs.writeFileSync(path.join(lastFolder, key), key);
      }
    },
    bigMiB: 20,
    requests: () => null,
  },
  {
    name: 's3',
    async open(prefix = S3_PREFIX) {
      lastBucket = s3.bucket();
      const store = await openRemote(`s3://${lastBucket}/${prefix}`, { endpoint: s3.endpoint, jobs: 16 }, { cwd: tmp });
      opened.push(store);
      s3.proxy.clear();
      return store;
    },
    seed: (keys) => s3.seed(lastBucket, keys.map((key) => ({ key: `${S3_PREFIX}/${key}`, body: Buffer.from(key) }))),
    bigMiB: 100,
    requests: () => s3.proxy.requests,
  },
];

describe.each(backends)('object store contract: $name', (backend) => {
  it('answers head of a missing object with null, and get of one with not_found', async () => {
    const store = await backend.open();
    const key = objectKey(await hashOf(Buffer.from('nothing here')));
    expect(await store.head(key)).toBeNull();
    await expect(store.get(key)).rejects.toMatchObject({ name: 'StoreError', reason: 'not_found', key, exit: 1 });
  });

  it('stores bytes exactly: head gives the size, get the same bytes; a second put is harmless', async () => {
    const store = await backend.open();
    const data = allBytes();
    const key = objectKey(await hashOf(data));
    await store.put(key, source(data));
    expect(await store.head(key)).toEqual({ size: data.length });
    expect((await readAll(await store.get(key))).equals(data)).toBe(true);
    await store.put(key, source(data));
    expect(await store.head(key)).toEqual({ size: data.length });
    expect((await readAll(await store.get(key))).equals(data)).toBe(true);

    const empty = objectKey(await hashOf(Buffer.alloc(0)));
    await store.put(empty, source(Buffer.alloc(0)));
    expect(await store.head(empty)).toEqual({ size: 0 });
    expect((await readAll(await store.get(empty))).length).toBe(0);
  });

  it('lists by prefix, with sizes and times, and only under its own prefix', async () => {
    const store = await backend.open();
    const other = await backend.open(); // another folder, or another bucket
    const keys: string[] = [];
    for (let i = 0; i < 5; i++) {
      const data = Buffer.from(`object ${i}`);
      const key = objectKey(await hashOf(data, i < 3 ? 'xxh128' : 'sha256'));
      keys.push(key);
      await store.put(key, source(data));
    }
    await other.put(objectKey(await hashOf(Buffer.from('elsewhere'))), source(Buffer.from('elsewhere')));
    const all = await listAll(store, '');
    expect(all.map((o) => o.key)).toEqual([...keys].sort());
    expect(all.every((o) => o.size === 8 && o.mtime instanceof Date && Math.abs(o.mtime.getTime() - Date.now()) < 600_000)).toBe(true);
    expect((await listAll(store, objectPrefix('sha256'))).map((o) => o.key)).toEqual(keys.slice(3).sort());
    const first = keys[0].split('/')[4];
    expect((await listAll(store, objectPrefix('xxh128', first))).map((o) => o.key)).toContain(keys[0]);
    // A prefix that ends mid-name matches as S3 does.
    expect((await listAll(store, keys[1].slice(0, -3))).map((o) => o.key)).toEqual([keys[1]]);
    expect(await listAll(store, 'dvcl/v1/objects/md5/')).toEqual([]);
    expect(await listAll(store, 'no/such/')).toEqual([]);
  });

  it('lists and deletes more than 1,000 objects (S3 pages and batches by 1,000)', async () => {
    const store = await backend.open();
    const keys = Array.from({ length: 1100 }, (_, i) => objectKey(`xxh128:${i.toString(16).padStart(32, '0')}`));
    await backend.seed(keys);
    const listed = await listAll(store, objectPrefix('xxh128'));
    expect(listed.length).toBe(1100);
    expect(new Set(listed.map((o) => o.key))).toEqual(new Set(keys));
    expect(listed.find((o) => o.key === keys[7])?.size).toBe(keys[7].length);

    const before = backend.requests()?.length ?? 0;
    await store.deleteMany([...keys, objectKey(`xxh128:${'f'.repeat(32)}`)]); // one that does not exist
    const deletes = backend.requests()?.slice(before).filter((r) => r.method === 'POST' && r.query.has('delete'));
    if (deletes) expect(deletes.length).toBe(2);
    expect(await listAll(store, '')).toEqual([]);
    expect(await store.head(keys[0])).toBeNull();
  });

  it('finds which of many hashes are missing, by HEADs when few and by listing when many', async () => {
    const store = await backend.open();
    const hashes = Array.from({ length: 300 }, (_, i) => `xxh128:${(i * 7919).toString(16).padStart(32, 'a')}`);
    const stored = hashes.filter((_, i) => i % 3 === 0);
    await backend.seed(stored.map(objectKey));
    const few = [...hashes.slice(0, 10), hashes[0]];
    expect(await missingObjects(store, few)).toEqual(hashes.slice(0, 10).filter((_, i) => i % 3 !== 0));
    expect(await missingObjects(store, hashes)).toEqual(hashes.filter((_, i) => i % 3 !== 0));
    expect(await missingObjects(store, [])).toEqual([]);
  });

  it('pushObject then fetchObject round-trips a file byte for byte and replaces the old file', async () => {
    const store = await backend.open();
    const data = Buffer.concat([allBytes(300_000), Buffer.from([0, 255, 10, 13])]);
    const hash = await hashOf(data, 'sha256');
    const src = path.join(tmp, `src ✓ ${backend.name}.bin`);
    fs.writeFileSync(src, data);
    expect(await pushObject(store, hash, src)).toEqual({ size: data.length });
    expect(await store.head(objectKey(hash))).toEqual({ size: data.length });

    const dest = path.join(tmp, `out ü ${backend.name}`, 'nested dir', 'result.bin');
    expect(await fetchObject(store, hash, dest)).toEqual({ size: data.length });
    expect(fs.readFileSync(dest).equals(data)).toBe(true);
    fs.writeFileSync(dest, 'an older version');
    fs.chmodSync(dest, 0o640);
    await fetchObject(store, hash, dest);
    expect(fs.readFileSync(dest).equals(data)).toBe(true);
    expect(fs.statSync(dest).mode & 0o777).toBe(0o640);
    expect(fs.readdirSync(path.dirname(dest))).toEqual(['result.bin']);
  });

  it(`moves a ${backend.bigMiB} MiB object (multipart on S3, parts of one size) and back`, async () => {
    const store = await backend.open();
    const MiB = 1024 * 1024;
    const block = allBytes(MiB);
    const src = path.join(tmp, `big ${backend.name}.bin`);
    const fd = fs.openSync(src, 'w');
    // Each MiB stamped with its index: parts placed out of order would not hash the same.
    for (let i = 0; i < backend.bigMiB; i++) {
      block.writeUInt32BE(i, 0);
      fs.writeSync(fd, block);
    }
    fs.closeSync(fd);
    const hash = await hashOf(fs.readFileSync(src));
    await pushObject(store, hash, src);
    const parts = backend.requests()?.filter(isUploadPart).map((r) => r.contentLength);
    if (parts) {
      expect(parts.length).toBe(Math.ceil((backend.bigMiB * MiB) / PART_SIZE));
      expect(new Set(parts.slice().sort((a, b) => b! - a!).slice(0, -1))).toEqual(new Set([PART_SIZE]));
    }
    const dest = path.join(tmp, `big ${backend.name} back.bin`);
    await fetchObject(store, hash, dest);
    expect(fs.statSync(dest).size).toBe(backend.bigMiB * MiB);
    expect(await hashOf(fs.readFileSync(dest))).toBe(hash);
    fs.rmSync(src);
    fs.rmSync(dest);
  });
});

describe('s3 prefixes', () => {
  it('a remote at the bucket root and one under a prefix see only their own objects', async () => {
    const bucket = s3.bucket();
    const root = await openRemote(`s3://${bucket}`, { endpoint: s3.endpoint }, { cwd: tmp });
    const under = await openRemote(`s3://${bucket}/a b/ç/`, { endpoint: s3.endpoint }, { cwd: tmp });
    opened.push(root, under);
    const key = objectKey(await hashOf(Buffer.from('x')));
    await under.put(key, source(Buffer.from('x')));
    expect(await root.head(key)).toBeNull();
    expect((await listAll(root, '')).map((o) => o.key)).toEqual([`a b/ç/${key}`]);
    expect((await listAll(under, '')).map((o) => o.key)).toEqual([key]);
    expect((await readAll(await root.get(`a b/ç/${key}`))).toString()).toBe('x');
  });
});
