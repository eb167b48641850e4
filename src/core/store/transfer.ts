import { createReadStream, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import type { IHasher } from 'hash-wasm';
import { DvclError } from '../errors.js';
import { createHasher, type HashAlgorithm } from '../hashing/algorithms.js';
import { temporaryBeside, writevAt } from './files.js';
import { isAlgorithm, objectKey, type ObjectSource, type ObjectStore, StoreError } from './object-store.js';

export interface TransferOptions {
  /** Attempts of one object before giving up (a broken connection, a truncated or wrong body). Default 3. */
  attempts?: number;
  /**
   * Also keep a copy of the verified object here (the local cache's object), best effort: a file of
   * its own, never a hard link, so that editing the placed file in place leaves the copy intact.
   */
  alsoAt?: string;
}

const ATTEMPTS = 3;

/**
 * Download the object of `hash` to `destPath`: hashed while streamed to a temporary, renamed only
 * if it matches; retried, then a StoreError. Not fsynced, as git checkout does not: a file torn by
 * a power cut no longer has its hash, so status shows it and `pull --force` places it again.
 */
export async function fetchObject(store: ObjectStore, hash: string, destPath: string, opts: TransferOptions = {}): Promise<{ size: number }> {
  const key = objectKey(hash);
  const { algorithm, hasher } = await hasherOf(hash);
  try {
    return await fetchWith(store, hash, key, algorithm, hasher, destPath, opts);
  } finally {
    giveBack(algorithm, hasher);
  }
}

async function fetchWith(store: ObjectStore, hash: string, key: string, algorithm: HashAlgorithm, hasher: IHasher, destPath: string, opts: TransferOptions): Promise<{ size: number }> {
  local(destPath, () => ensureDir(path.dirname(destPath)));
  const keepMode = local(destPath, () => statSync(destPath, { throwIfNoEntry: false }), 'read')?.mode; // a file replaced keeps its mode
  const mode = keepMode === undefined ? 0o666 : keepMode & 0o7777;
  for (let attempt = 1; ; attempt++) {
    const tmp = temporaryBeside(destPath);
    try {
      const body = store.getBytes ? await store.getBytes(key, SMALL) : await store.get(key);
      const small = Buffer.isBuffer(body);
      const { size, hex, copied } = small ? writeSmall(body, tmp, mode, hasher) : await download(body, tmp, mode, hasher, opts.alsoAt);
      const got = `${algorithm}:${hex}`;
      if (got !== hash) {
        if (copied) rmSync(copied, { force: true });
        throw new StoreError('corrupt', `remote ${store.url}: object ${key} is corrupt: expected ${hash}, got ${got}`, { key });
      }
      if (opts.alsoAt) keepCopy(small ? body : copied, opts.alsoAt);
      local(destPath, () => renameSync(tmp, destPath));
      return { size };
    } catch (err) {
      rmSync(tmp, { force: true });
      if (!retryable(err) || attempt >= (opts.attempts ?? ATTEMPTS)) throw asStoreError(store, key, 'read', err);
    }
  }
}

/** The verified object at `target`: its bytes written there, or the copy a download wrote alongside renamed there; failing that, nothing (the cache is a convenience). */
function keepCopy(from: Buffer | string | undefined, target: string): void {
  if (from === undefined) return;
  const tmp = Buffer.isBuffer(from) ? temporaryBeside(target) : from;
  try {
    if (Buffer.isBuffer(from)) {
      ensureDir(path.dirname(target));
      inFolder(tmp, () => writeFileSync(tmp, from, { flag: 'wx' }));
    }
    renameSync(tmp, target);
  } catch {
    rmSync(tmp, { force: true });
  }
}

/** A download's writes: a batch per writev, and how far they may run behind the socket. */
const WRITE_BATCH = 1024 * 1024;
const WRITE_AHEAD = 16 * 1024 * 1024;

/** Objects up to this size are read whole and written with one call each, synchronously: no stream, no thread pool round trips. */
const SMALL = 1024 * 1024;

/** Folders this process made or found: one mkdir per folder, not per file. */
const madeDirs = new Set<string>();

function ensureDir(dir: string): void {
  if (madeDirs.has(dir)) return;
  mkdirSync(dir, { recursive: true });
  madeDirs.add(dir);
}

/** A folder remembered as made may have been removed since (the library called again after an `rm -rf`): made again. */
function inFolder<T>(file: string, write: () => T): T {
  try {
    return write();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    madeDirs.delete(path.dirname(file));
    ensureDir(path.dirname(file));
    return write();
  }
}

function writeSmall(body: Buffer, tmp: string, mode: number, hasher: IHasher): { size: number; hex: string; copied?: string } {
  const hex = hasher.init().update(body).digest('hex');
  local(tmp, () => inFolder(tmp, () => writeFileSync(tmp, body, { flag: 'wx', mode })));
  return { size: body.length, hex };
}

/** The body streamed to `tmp`, hashed; with `copyAt`, also to a temporary beside it (`copied`, when every byte got there). */
async function download(body: Readable, tmp: string, mode: number, hasher: IHasher, copyAt: string | undefined): Promise<{ size: number; hex: string; copied?: string }> {
  let fh: FileHandle | undefined;
  let copy: FileHandle | undefined;
  const copyTmp = copyAt && temporaryBeside(copyAt);
  let writing: Promise<unknown>[] = [];
  try {
    fh = await localAsync(tmp, () => open(tmp, 'wx', mode).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
      madeDirs.delete(path.dirname(tmp));
      ensureDir(path.dirname(tmp));
      return open(tmp, 'wx', mode);
    }));
    // The cache's copy is written as the bytes arrive, while the next ones are on their way: a copy after would be a second pass.
    if (copyTmp) copy = await (async () => { ensureDir(path.dirname(copyTmp)); return open(copyTmp, 'wx'); })().catch(() => undefined);
    // Chunks are written in batches by position, while the next ones arrive: waiting for each
    // write before reading on (a 64 KiB socket chunk at a time) left the connection idle.
    const h = hasher.init();
    let size = 0;
    let batch: Buffer[] = [];
    let batched = 0;
    let failed: { error: unknown } | undefined; // held, not left unhandled, until the writes are awaited
    let ahead = 0;
    const flush = () => {
      if (batched === 0) return;
      const chunks = batch;
      const at = size - batched;
      writing.push(localAsync(tmp, () => writevAt(fh!, chunks, at)).catch((error: unknown) => void (failed ??= { error })));
      if (copy) writing.push(writevAt(copy, chunks, at).catch(() => { void copy?.close().catch(() => {}); copy = undefined; }));
      ahead += batched;
      batch = [];
      batched = 0;
    };
    for await (const chunk of body) {
      h.update(chunk as Buffer);
      size += (chunk as Buffer).length;
      batch.push(chunk as Buffer);
      batched += (chunk as Buffer).length;
      if (batched < WRITE_BATCH) continue;
      flush();
      if (ahead < WRITE_AHEAD) continue;
      await Promise.all(writing);
      if (failed) throw failed.error;
      writing = [];
      ahead = 0;
    }
    flush();
    await Promise.all(writing);
    if (failed) throw failed.error;
    if (copyTmp && !copy) rmSync(copyTmp, { force: true });
    return { size, hex: h.digest('hex'), ...(copy ? { copied: copyTmp } : {}) };
  } catch (e) {
    if (copyTmp) rmSync(copyTmp, { force: true });
    throw e;
  } finally {
    body.destroy();
    await Promise.allSettled(writing); // no write still running on a handle being closed
    await fh?.close().catch(() => {});
    await copy?.close().catch(() => {});
  }
}

/** Upload `srcPath` as the object of `hash`; a file that no longer has `hash` fails (`changed`) before the object is visible. */
export async function pushObject(store: ObjectStore, hash: string, srcPath: string, opts: TransferOptions = {}): Promise<{ size: number }> {
  const key = objectKey(hash);
  const { algorithm, hasher } = await hasherOf(hash);
  const r = await pushWith(store, hash, key, algorithm, hasher, srcPath, opts);
  // Only after a success: a stream of an upload given up may still feed its hasher for a moment.
  giveBack(algorithm, hasher);
  return r;
}

async function pushWith(store: ObjectStore, hash: string, key: string, algorithm: HashAlgorithm, hasher: IHasher, srcPath: string, opts: TransferOptions): Promise<{ size: number }> {
  const st = await localAsync(srcPath, () => stat(srcPath), 'read');
  if (!st.isFile()) throw new DvclError('io', `cannot upload ${srcPath}: not a file`, { exit: 1 });
  const source = st.size <= SMALL ? smallSource(srcPath, st.size, hash, key, algorithm, hasher) : { size: st.size, open: () => verified(srcPath, st.size, hash, key, algorithm, hasher) };
  for (let attempt = 1; ; attempt++) {
    try {
      await store.put(key, source);
      return { size: st.size };
    } catch (err) {
      if (!retryable(err) || attempt >= (opts.attempts ?? ATTEMPTS)) throw asStoreError(store, key, 'write', err);
    }
  }
}

/**
 * A small file read whole and checked before anything is sent: no stream (whose 1 MiB read buffer
 * per 1 KiB file was most of a shard worker's garbage), one write or request body per object.
 */
function smallSource(file: string, size: number, hash: string, key: string, algorithm: HashAlgorithm, hasher: IHasher): ObjectSource {
  const bytes = local(file, () => readFileSync(file), 'read');
  const got = `${algorithm}:${hasher.init().update(bytes).digest('hex')}`;
  if (bytes.length !== size || got !== hash) throw changedError(file, hash, size, got, bytes.length, key);
  return { size, bytes, open: () => Readable.from([bytes]) };
}

function changedError(file: string, hash: string, size: number, got: string, bytes: number, key: string): StoreError {
  return new StoreError('changed', `${file} changed: it no longer has hash ${hash} (${size} bytes) but ${got} (${bytes} bytes): not uploaded`, { key });
}

/** `file`'s bytes, failing at their end (before the store places them) unless they have `hash`. */
function verified(file: string, size: number, hash: string, key: string, algorithm: HashAlgorithm, hasher: IHasher): Readable {
  const h = hasher.init();
  let bytes = 0;
  const check = new Transform({
    transform(chunk: Buffer, _enc, done) {
      h.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
    flush(done) {
      const got = `${algorithm}:${h.digest('hex')}`;
      if (bytes === size && got === hash) return done();
      done(changedError(file, hash, size, got, bytes, key));
    },
  });
  const read = createReadStream(file, { highWaterMark: 1024 * 1024 });
  read.on('error', (err) => check.destroy(new DvclError('io', `cannot read ${file}: ${err.message}`, { exit: 1 })));
  check.on('close', () => read.destroy()); // an upload given up mid-file must not keep the file open
  return read.pipe(check);
}

function retryable(err: unknown): boolean {
  if (err instanceof StoreError) return err.reason === 'transfer' || err.reason === 'corrupt';
  return !(err instanceof DvclError); // a stream that broke mid-body
}

function asStoreError(store: ObjectStore, key: string, op: string, err: unknown): DvclError {
  if (err instanceof DvclError) return err;
  const e = err as NodeJS.ErrnoException;
  return new StoreError('transfer', `remote ${store.url}: cannot ${op} ${key}: ${e.code ?? e.message ?? String(err)}`, { key, cause: err });
}

/** Run a local file operation; its failure is the project's, not the remote's: not retried. */
async function localAsync<T>(file: string, op: () => Promise<T>, verb = 'write'): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw localError(file, verb, err);
  }
}

function local<T>(file: string, op: () => T, verb = 'write'): T {
  try {
    return op();
  } catch (err) {
    throw localError(file, verb, err);
  }
}

function localError(file: string, verb: string, err: unknown): DvclError {
  return new DvclError('io', `cannot ${verb} ${file}: ${(err as Error).message}`, { exit: 1 });
}

/** Idle hashers per algorithm: instantiating the WebAssembly module per object is costly. */
const idle = new Map<HashAlgorithm, IHasher[]>();

/** A hasher of the algorithm `hash` names (objectKey has validated it), for one transfer: give it back after. */
async function hasherOf(hash: string): Promise<{ algorithm: HashAlgorithm; hasher: IHasher }> {
  const algorithm = hash.slice(0, hash.indexOf(':'));
  if (!isAlgorithm(algorithm)) throw new Error(`not a hash algorithm: ${algorithm}`);
  return { algorithm, hasher: idle.get(algorithm)?.pop() ?? await createHasher(algorithm) };
}

function giveBack(algorithm: HashAlgorithm, hasher: IHasher): void {
  let list = idle.get(algorithm);
  if (!list) idle.set(algorithm, (list = []));
  list.push(hasher);
}
