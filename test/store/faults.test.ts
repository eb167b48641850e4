// The remote misbehaving: throttling, broken and wrong bodies, refusals, and the request count of bulk existence checks.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHasher } from '../../src/core/hashing/algorithms.js';
import { missingObjects } from '../../src/core/store/missing.js';
import { objectKey, type ObjectStore, StoreError } from '../../src/core/store/object-store.js';
import { openRemote } from '../../src/core/store/remote.js';
import { fetchObject, pushObject } from '../../src/core/store/transfer.js';
import { type Fault, isGetObject, isHead, isHeadBucket, isList, type SeenRequest } from '../helpers/fault-proxy.js';
import { type FakeS3, startFakeS3 } from '../helpers/s3.js';

let tmp: string;
let s3: FakeS3;
let opened: ObjectStore[] = [];

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-faults-'));
  s3 = await startFakeS3();
});
afterAll(async () => {
  await s3?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});
afterEach(async () => {
  s3.proxy.setFault(null);
  for (const s of opened) await s.close();
  opened = [];
  s3.empty();
});

async function open(url: string, endpoint = s3.endpoint): Promise<ObjectStore> {
  const store = await openRemote(url, { endpoint }, { cwd: tmp });
  opened.push(store);
  return store;
}

async function hashOf(data: Buffer): Promise<string> {
  return `xxh128:${(await createHasher('xxh128')).init().update(data).digest('hex')}`;
}

/** A store holding one object; returns it with the object's hash and bytes. */
async function storeWithObject(size = 200_000) {
  const bucket = s3.bucket();
  const store = await open(`s3://${bucket}/faults`);
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31) & 0xff;
  const hash = await hashOf(data);
  await store.put(objectKey(hash), { size, open: () => Readable.from([data]) });
  s3.proxy.clear();
  return { store, bucket, hash, key: objectKey(hash), data };
}

/** Files in `dir` (temporaries would show here). */
const filesIn = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);

/** Break the first `n` requests that `match`; forward the rest. */
function failFirst(n: number, match: (r: SeenRequest) => boolean, fault: Fault) {
  let left = n;
  s3.proxy.setFault((r) => (match(r) && left-- > 0 ? fault : undefined));
}

describe('throttling', () => {
  it('503 SlowDown answers are retried until the operation succeeds', async () => {
    const { store, key, data } = await storeWithObject();
    const slowDown: Fault = { kind: 'error', status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' };
    failFirst(2, () => true, slowDown);
    expect(await store.head(key)).toEqual({ size: data.length });
    expect(s3.proxy.count(isHead)).toBe(3);

    failFirst(1, () => true, slowDown);
    const other = Buffer.from('another object');
    await store.put(objectKey(await hashOf(other)), { size: other.length, open: () => Readable.from([other]) });
    failFirst(1, () => true, slowDown);
    const dest = path.join(tmp, 'throttled.bin');
    await fetchObject(store, await hashOf(data), dest);
    expect(fs.readFileSync(dest).equals(data)).toBe(true);
  });
});

describe('broken downloads', () => {
  it('a connection reset mid-body is retried by fetchObject', async () => {
    const { store, hash, data } = await storeWithObject();
    failFirst(1, isGetObject, { kind: 'reset', afterBytes: 50_000 });
    const dest = path.join(tmp, 'reset', 'out.bin');
    await fetchObject(store, hash, dest);
    expect(fs.readFileSync(dest).equals(data)).toBe(true);
    expect(s3.proxy.count(isGetObject)).toBe(2);
    expect(filesIn(path.dirname(dest))).toEqual(['out.bin']);
  });

  it('resets on every attempt fail cleanly: one error, nothing placed, no temporary left', async () => {
    const { store, hash, key } = await storeWithObject();
    s3.proxy.setFault((r) => (isGetObject(r) ? { kind: 'reset', afterBytes: 1000 } : undefined));
    const dir = path.join(tmp, 'always-reset');
    const err = await fetchObject(store, hash, path.join(dir, 'out.bin')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ reason: 'transfer', exit: 1, key });
    expect((err as Error).message).toContain(store.url);
    expect((err as Error).message).not.toContain('\n');
    expect(s3.proxy.count(isGetObject)).toBe(3);
    expect(filesIn(dir)).toEqual([]);
  });

  it.each([
    ['a truncated body', { kind: 'truncate', bytes: 1234 }],
    ['a wrong body', { kind: 'corrupt' }],
  ] as const)('%s is a mismatch naming the object and both hashes; the old file is kept', async (_name, fault) => {
    const { store, hash, key } = await storeWithObject();
    s3.proxy.setFault((r) => (isGetObject(r) ? fault : undefined));
    const dir = path.join(tmp, `mismatch-${fault.kind}`);
    fs.mkdirSync(dir, { recursive: true });
    const dest = path.join(dir, 'out.bin');
    fs.writeFileSync(dest, 'the old content');
    const err = await fetchObject(store, hash, dest).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'StoreError', reason: 'corrupt', exit: 1, key });
    const message = (err as Error).message;
    expect(message).toContain(key);
    expect(message).toContain(`expected ${hash}`);
    expect(message).toMatch(/got xxh128:[0-9a-f]{32}$/);
    expect(message).toContain(`remote ${store.url}`);
    expect(fs.readFileSync(dest, 'utf8')).toBe('the old content');
    expect(filesIn(dir)).toEqual(['out.bin']);
  });

  it('a body that is wrong once is fetched again and placed', async () => {
    const { store, hash, data } = await storeWithObject();
    failFirst(1, isGetObject, { kind: 'corrupt' });
    const dest = path.join(tmp, 'corrupt-once.bin');
    await fetchObject(store, hash, dest);
    expect(fs.readFileSync(dest).equals(data)).toBe(true);
  });
});

describe('direct GETs (signed by the SDK\'s signer, sent without its middleware)', () => {
  const viaSdk = (r: SeenRequest) => isGetObject(r) && r.userAgent.startsWith('aws-sdk-js');
  const direct = (r: SeenRequest) => isGetObject(r) && r.userAgent === 'dvcl';

  /** A store that has fetched one object through the SDK (which shows the route), and a second object to fetch. */
  async function warmed() {
    const { store, hash, data } = await storeWithObject();
    await fetchObject(store, hash, path.join(tmp, 'warm', 'first.bin'));
    const other = Buffer.from('the second object, fetched directly');
    const otherHash = await hashOf(other);
    await store.put(objectKey(otherHash), { size: other.length, open: () => Readable.from([other]) });
    s3.proxy.clear();
    return { store, hash, data, other, otherHash };
  }

  it('after one GET through the SDK the rest go direct, byte for byte, small and streamed (over 1 MiB)', async () => {
    const { store, other, otherHash } = await warmed();
    const dest = path.join(tmp, 'direct', 'second.bin');
    await fetchObject(store, otherHash, dest);
    expect(fs.readFileSync(dest).equals(other)).toBe(true);
    const large = Buffer.alloc(3 * 1024 * 1024 + 7);
    for (let i = 0; i < large.length; i++) large[i] = (i * 7) & 0xff;
    const largeHash = await hashOf(large);
    await store.put(objectKey(largeHash), { size: large.length, open: () => Readable.from([large]) });
    s3.proxy.clear();
    await fetchObject(store, largeHash, path.join(tmp, 'direct', 'large.bin'));
    expect(fs.readFileSync(path.join(tmp, 'direct', 'large.bin')).equals(large)).toBe(true);
    expect(s3.proxy.count(direct)).toBe(1);
    expect(s3.proxy.count(viaSdk)).toBe(0);
  });

  it('a 503 on a direct GET is handed to the SDK, which retries it; the next GET is direct again', async () => {
    const { store, other, otherHash, hash } = await warmed();
    failFirst(1, isGetObject, { kind: 'error', status: 503, code: 'SlowDown' });
    const dest = path.join(tmp, 'direct-503', 'second.bin');
    await fetchObject(store, otherHash, dest);
    expect(fs.readFileSync(dest).equals(other)).toBe(true);
    expect([s3.proxy.count(direct), s3.proxy.count(viaSdk)]).toEqual([1, 1]);
    await fetchObject(store, hash, path.join(tmp, 'direct-503', 'again.bin'));
    expect(s3.proxy.count(direct)).toBe(2);
  });

  it.each([
    ['a reset mid-body', { kind: 'reset', afterBytes: 10 }],
    ['a wrong body', { kind: 'corrupt' }],
  ] as const)('%s on a direct GET is fetched again and placed', async (_name, fault) => {
    const { store, other, otherHash } = await warmed();
    failFirst(1, isGetObject, fault);
    const dest = path.join(tmp, `direct-${fault.kind}`, 'second.bin');
    await fetchObject(store, otherHash, dest);
    expect(fs.readFileSync(dest).equals(other)).toBe(true);
    expect(s3.proxy.count(direct)).toBe(2);
  });

  it('a truncated body on every direct GET is a mismatch naming the object; nothing placed', async () => {
    const { store, otherHash } = await warmed();
    s3.proxy.setFault((r) => (isGetObject(r) ? { kind: 'truncate', bytes: 5 } : undefined));
    const dir = path.join(tmp, 'direct-truncated');
    const err = await fetchObject(store, otherHash, path.join(dir, 'out.bin')).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'StoreError', reason: 'corrupt', key: objectKey(otherHash) });
    expect(filesIn(dir)).toEqual([]);
  });

  it('refused credentials on a direct GET: the SDK\'s answer, naming the remote; the direct path stops', async () => {
    const { store, otherHash } = await warmed();
    s3.proxy.setFault((r) => (isGetObject(r) ? { kind: 'error', status: 403, code: 'AccessDenied', message: 'Access Denied' } : undefined));
    const err = await fetchObject(store, otherHash, path.join(tmp, 'direct-403', 'out.bin')).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'StoreError', reason: 'denied', exit: 1 });
    expect((err as Error).message).toContain(`remote ${store.url}`);
    expect((err as Error).message).toContain('AccessDenied');
    s3.proxy.setFault(null);
    s3.proxy.clear();
    await fetchObject(store, otherHash, path.join(tmp, 'direct-403', 'out.bin'));
    expect([s3.proxy.count(direct), s3.proxy.count(viaSdk)]).toEqual([0, 1]);
  });
});

describe('the remote refusing or absent: one error naming the remote, exit 1', () => {
  async function closedPort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }

  function expectOneMessage(err: unknown, reason: string, message: string | RegExp) {
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ reason, exit: 1, exitCode: 1 });
    expect((err as StoreError).remoteWide).toBe(true);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('\n');
  }

  it('an unreachable endpoint', async () => {
    const port = await closedPort();
    const store = await open('s3://some-bucket/p', `http://127.0.0.1:${port}`);
    const err = await store.head(objectKey(`xxh128:${'0'.repeat(32)}`)).catch((e: unknown) => e);
    expectOneMessage(err, 'unreachable', `remote s3://some-bucket/p: cannot reach http://127.0.0.1:${port} (ECONNREFUSED)`);
  });

  it('refused credentials, on HEAD (no body) and GET (an S3 error code)', async () => {
    const { store, hash, key } = await storeWithObject(10);
    s3.proxy.setFault(() => ({ kind: 'error', status: 403, code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.' }));
    expectOneMessage(await store.head(key).catch((e: unknown) => e), 'denied', new RegExp(`^remote ${store.url}: access denied \\(HTTP 403\\)$`));
    expectOneMessage(await fetchObject(store, hash, path.join(tmp, 'denied.bin')).catch((e: unknown) => e), 'denied', `remote ${store.url}: access denied (InvalidAccessKeyId)`);
    s3.proxy.setFault(() => ({ kind: 'error', status: 403, code: 'SignatureDoesNotMatch' }));
    expectOneMessage(await missingObjects(store, [hash]).catch((e: unknown) => e), 'denied', `remote ${store.url}: access denied (HTTP 403)`);
    expectOneMessage(await fetchObject(store, hash, path.join(tmp, 'denied.bin')).catch((e: unknown) => e), 'denied', /access denied \(SignatureDoesNotMatch\)$/);
    expect(fs.existsSync(path.join(tmp, 'denied.bin'))).toBe(false);
  });

  it('no credentials anywhere in the SDK chain', async () => {
    const saved = { ...process.env };
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(tmp, 'no-credentials');
    process.env.AWS_CONFIG_FILE = path.join(tmp, 'no-config');
    try {
      const store = await open(`s3://${s3.bucket()}/p`);
      const err = await store.head(objectKey(`xxh128:${'0'.repeat(32)}`)).catch((e: unknown) => e);
      expectOneMessage(err, 'no_credentials', `remote ${store.url}: no AWS credentials found`);
    } finally {
      process.env = saved;
    }
  });

  it('a missing bucket, on every operation (a HEAD cannot tell it from a missing object: asked once)', async () => {
    const store = await open('s3://no-such-bucket/team/p');
    const message = 'remote s3://no-such-bucket/team/p: bucket no-such-bucket does not exist';
    const key = objectKey(`xxh128:${'0'.repeat(32)}`);
    expectOneMessage(await store.head(key).catch((e: unknown) => e), 'no_bucket', message);
    expectOneMessage(await store.get(key).catch((e: unknown) => e), 'no_bucket', message);
    expectOneMessage(await store.put(key, { size: 1, open: () => Readable.from([Buffer.from('x')]) }).catch((e: unknown) => e), 'no_bucket', message);
    expectOneMessage(await (async () => { for await (const _ of store.list('')) { /* nothing */ } })().catch((e: unknown) => e), 'no_bucket', message);
  });

  it('a folder remote that does not exist', async () => {
    const missing = path.join(tmp, 'not mounted');
    const err = await openRemote(missing, {}, { cwd: tmp }).catch((e: unknown) => e);
    expectOneMessage(err, 'unreachable', `remote ${missing}: folder ${missing} does not exist`);
    expect(fs.existsSync(missing)).toBe(false);
  });
});

describe('uploads verify their source', () => {
  it.each(['s3', 'folder'])('a file that does not have its recorded hash is not uploaded (%s)', async (kind) => {
    const folder = path.join(tmp, 'verify-remote');
    fs.mkdirSync(folder, { recursive: true });
    const store = kind === 's3' ? await open(`s3://${s3.bucket()}/p`) : await open(folder);
    const src = path.join(tmp, 'changed.txt');
    fs.writeFileSync(src, 'recorded content');
    const hash = await hashOf(Buffer.from('recorded content'));
    fs.writeFileSync(src, 'edited  content'); // another length, too
    const err = await pushObject(store, hash, src).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'StoreError', reason: 'changed', exit: 1 });
    expect((err as Error).message).toContain(`no longer has hash ${hash}`);
    expect(await store.head(objectKey(hash))).toBeNull();
    fs.writeFileSync(src, 'recorded content');
    await pushObject(store, hash, src);
    expect(await store.head(objectKey(hash))).toEqual({ size: 16 });
  });

  // Above 1 MiB the file is streamed and checked at its end, before the store places it.
  it.each(['s3', 'folder'])('a large file edited to the same length is not uploaded either (%s)', async (kind) => {
    const folder = path.join(tmp, 'verify-remote-large');
    fs.mkdirSync(folder, { recursive: true });
    const store = kind === 's3' ? await open(`s3://${s3.bucket()}/large`) : await open(folder);
    const src = path.join(tmp, 'changed-large.bin');
    const recorded = Buffer.alloc(3 * 1024 * 1024, 'a');
    const hash = await hashOf(recorded);
    fs.writeFileSync(src, Buffer.alloc(recorded.length, 'b'));
    const err = await pushObject(store, hash, src).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'StoreError', reason: 'changed', exit: 1 });
    expect((err as Error).message).toContain(`no longer has hash ${hash}`);
    expect(await store.head(objectKey(hash))).toBeNull();
    fs.writeFileSync(src, recorded);
    await pushObject(store, hash, src);
    expect(await store.head(objectKey(hash))).toEqual({ size: recorded.length });
  });
});

describe('missingObjects', () => {
  it('over 10,000 hashes lists the remote in a few requests, no HEADs', async () => {
    const bucket = s3.bucket();
    const store = await open(`s3://${bucket}/many`);
    const hashes = Array.from({ length: 10_000 }, (_, i) => `xxh128:${((i * 2654435761) >>> 0).toString(16).padStart(8, '0')}${i.toString(16).padStart(24, '0')}`);
    const present = hashes.filter((_, i) => i % 20 === 0);
    await s3.seed(bucket, present.map((h) => ({ key: `many/${objectKey(h)}`, body: Buffer.from('x') })));
    s3.proxy.clear();
    const missing = await missingObjects(store, hashes);
    expect(missing.length).toBe(hashes.length - present.length);
    expect(new Set(missing)).toEqual(new Set(hashes.filter((_, i) => i % 20 !== 0)));
    expect(s3.proxy.count(isHead)).toBe(0);
    expect(s3.proxy.count(isList)).toBeLessThanOrEqual(3);
    expect(s3.proxy.requests.length).toBe(s3.proxy.count(isList));
  });

  it('a few hashes are one HEAD each', async () => {
    const { store, hash } = await storeWithObject(10);
    const others = Array.from({ length: 9 }, (_, i) => `xxh128:${String(i).repeat(32)}`);
    expect(await missingObjects(store, [hash, ...others])).toEqual(others);
    expect(s3.proxy.count(isHead)).toBe(10);
    expect(s3.proxy.count(isHeadBucket)).toBe(1); // is it a missing object or a missing bucket: asked once
    expect(s3.proxy.count(isList)).toBe(0);
  });
});
