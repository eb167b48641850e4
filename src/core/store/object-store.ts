// store/: where outputs travel by content hash — the folder and S3 backends, object keys, verified transfers.
import type { Readable } from 'node:stream';
import { DvclError } from '../errors.js';
import { HASH_ALGORITHMS, type HashAlgorithm } from '../hashing/algorithms.js';

/** What an object's bytes are read from when it is stored: opened once per attempt. */
export interface ObjectSource {
  /** The number of bytes `open()` yields; a put that reads another count fails and places nothing. */
  size: number;
  open(): Readable;
  /** The bytes themselves, when the source is small enough to hold (the same as `open()` yields): a store may write them in one call. */
  bytes?: Buffer;
}

export interface ListedObject {
  /** Relative to the store's prefix, as given to put. */
  key: string;
  size: number;
  mtime: Date;
}

/** Immutable objects by `/`-separated key under a folder or S3 prefix; failures are {@link StoreError}s. */
export interface ObjectStore {
  /** The remote as the user named it, for messages. */
  readonly url: string;
  /** Transfers worth running at once (the S3 connection pool's size). */
  readonly jobs: number;
  /** The object's size, or null when there is none at `key`. */
  head(key: string): Promise<{ size: number } | null>;
  /** The object's bytes; rejects with a StoreError of reason `not_found` when there is none. */
  get(key: string): Promise<Readable>;
  /** Optional: the object's bytes in one Buffer when it has at most `limit`, else its stream (as get). */
  getBytes?(key: string, limit: number): Promise<Buffer | Readable>;
  /** Store `source` at `key`: visible under `key` only once complete (never partly written). */
  put(key: string, source: ObjectSource): Promise<void>;
  /** Every object whose key starts with `prefix`, in no particular order. */
  list(prefix: string): AsyncIterable<ListedObject>;
  /** Delete these keys; keys that do not exist are no error. */
  deleteMany(keys: readonly string[]): Promise<void>;
  /** Release connections; the store is unusable afterwards. */
  close(): Promise<void>;
}

/** Why a store operation failed: the first four concern one object, the rest the whole remote. */
export type StoreFailure =
  | 'not_found'      // no object at the key
  | 'corrupt'        // the bytes read do not have the hash of their key
  | 'changed'        // the local file changed while it was being uploaded
  | 'transfer'       // a transfer failed after its retries
  | 'unreachable'    // the endpoint (or folder) cannot be reached
  | 'denied'         // credentials refused
  | 'no_credentials' // the AWS SDK's chain found none
  | 'no_bucket';     // the bucket does not exist

const REMOTE_WIDE: ReadonlySet<StoreFailure> = new Set(['unreachable', 'denied', 'no_credentials', 'no_bucket']);

/** A failed store operation: one message naming the remote (and the object), exit 1. */
export class StoreError extends DvclError {
  readonly reason: StoreFailure;
  /** The object's key, when the failure concerns one object. */
  readonly key: string | undefined;

  constructor(reason: StoreFailure, message: string, opts: { key?: string; suggestions?: string[]; cause?: unknown } = {}) {
    super('io', message, { exit: 1, suggestions: opts.suggestions });
    this.name = 'StoreError';
    this.reason = reason;
    this.key = opts.key;
    if (opts.cause !== undefined) Object.defineProperty(this, 'cause', { value: opts.cause, enumerable: false });
  }

  /** True when every other operation on the same remote would fail the same way. */
  get remoteWide(): boolean {
    return REMOTE_WIDE.has(this.reason);
  }
}

export function isStoreError(err: unknown, reason?: StoreFailure): err is StoreError {
  return err instanceof StoreError && (reason === undefined || err.reason === reason);
}

/** Where objects live under a remote's prefix; versioned, with the algorithm in the path (SPEC §10). */
export const OBJECTS_PREFIX = 'dvcl/v1/objects/';

const HASH_RE = /^([a-z0-9]+):([0-9a-f]{8,128})$/;
const KEY_RE = /^dvcl\/v1\/objects\/([a-z0-9]+)\/([0-9a-f]{2})\/([0-9a-f]{6,126})$/;

/** The key of the object holding the content of `hash` (`algo:hex`): `dvcl/v1/objects/<algo>/<2 hex>/<rest>`. */
export function objectKey(hash: string): string {
  const m = HASH_RE.exec(hash);
  if (!m || !isAlgorithm(m[1]) || m[2].length % 2 !== 0) {
    throw new DvclError('corrupt', `not a content hash: ${JSON.stringify(hash)} (expected <algorithm>:<hex>)`, { exit: 1 });
  }
  return `${OBJECTS_PREFIX}${m[1]}/${m[2].slice(0, 2)}/${m[2].slice(2)}`;
}

/** The hash whose object `key` is, or null when `key` is not an object key (a temporary, another file). */
export function hashOfKey(key: string): string | null {
  const m = KEY_RE.exec(key);
  if (!m || !isAlgorithm(m[1]) || m[3].length % 2 !== 0) return null;
  return `${m[1]}:${m[2]}${m[3]}`;
}

/** The key prefix of every object of `algorithm`, or of those whose hex starts with `twoHex`. */
export function objectPrefix(algorithm: HashAlgorithm, twoHex?: string): string {
  return `${OBJECTS_PREFIX}${algorithm}/${twoHex === undefined ? '' : `${twoHex}/`}`;
}

export function isAlgorithm(name: string): name is HashAlgorithm {
  return (HASH_ALGORITHMS as readonly string[]).includes(name);
}

/** The whole object, in one read where the store can (fragments, run cache entries: small text). */
export async function readObject(store: ObjectStore, key: string): Promise<Buffer> {
  const got = store.getBytes ? await store.getBytes(key, 256 * 1024 * 1024) : await store.get(key);
  if (Buffer.isBuffer(got)) return got;
  const chunks: Buffer[] = [];
  for await (const c of got) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
