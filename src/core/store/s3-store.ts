import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import type { ListedObject, ObjectSource, ObjectStore } from './object-store.js';
import { forEachLimit } from './pool.js';
import type { DirectGet } from './s3-direct.js';
import { httpStatus, type S3Remote, s3Error } from './s3-errors.js';

// The SDK is imported inside the functions below: status and repro never pay for loading it.
type S3Sdk = typeof import('@aws-sdk/client-s3');

/** A bucket and the key prefix inside it (no leading or trailing `/`; may be empty). */
export interface S3Location {
  bucket: string;
  prefix: string;
}

export type { RemoteOptions as S3Options } from '../config/remote-settings.js';
import type { RemoteOptions as S3Options } from '../config/remote-settings.js';

export const DEFAULT_S3_JOBS = 16;
const MiB = 1024 * 1024;
/** Multipart part size (even parts: R2 rejects uneven ones), as the AWS CLI; grows past 10,000 parts. */
export const PART_SIZE = 8 * MiB;
const PARTS_IN_FLIGHT = 4;
const MAX_PARTS = 10_000;
/** The SDK's standard retry mode: throttling (503 SlowDown), 5xx and connection errors, with backoff. */
const MAX_ATTEMPTS = 6;
const DELETE_BATCH = 1000;
const SOCKET_TIMEOUT = 120_000;
const VERSION_WARNING = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

/** The size of every part but the last of an upload of `size` bytes. */
export function partSizeFor(size: number): number {
  return Math.max(PART_SIZE, Math.ceil(size / MAX_PARTS / MiB) * MiB);
}

/** An S3 bucket prefix as an ObjectStore. No request is made until the first operation. */
export async function openS3Store(url: string, location: S3Location, options: S3Options = {}): Promise<ObjectStore> {
  const [sdk, http, https] = await Promise.all([import('@aws-sdk/client-s3'), import('node:http'), import('node:https')]);
  const jobs = Math.max(1, Math.floor(options.jobs ?? DEFAULT_S3_JOBS));
  // The SDK reads these itself when no endpoint is passed; read here only for the path-style default.
  const endpoint = options.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  const agent = { keepAlive: true, maxSockets: jobs };
  const agents = { http: new http.Agent(agent), https: new https.Agent(agent) };
  const client = withoutNodeVersionWarning(() => new sdk.S3Client({
    endpoint: options.endpoint,
    region: options.region ?? (endpoint && !process.env.AWS_REGION && !process.env.AWS_DEFAULT_REGION ? 'us-east-1' : undefined),
    forcePathStyle: options.pathStyle ?? endpoint !== undefined,
    followRegionRedirects: true,
    // S3-compatible stores reject or mishandle the checksums the SDK otherwise adds to every request;
    // dvcl verifies content by its own hash.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    retryMode: 'standard',
    maxAttempts: MAX_ATTEMPTS,
    // The middleware stack resolved once per command type, not per request: 10,000 GETs cost a third less CPU.
    cacheMiddleware: true,
    // @smithy/node-http-handler's options: keep-alive, as many sockets as transfers.
    requestHandler: {
      httpAgent: agents.http,
      httpsAgent: agents.https,
      connectionTimeout: 10_000,
      socketTimeout: SOCKET_TIMEOUT,
      // Parts and transfers queue for the pool's sockets on purpose: not worth a warning.
      logger: { debug() {}, info() {}, warn: (m: unknown) => { if (!/socket usage at capacity/.test(String(m))) console.warn(m); }, error: console.error },
    },
  }));
  // Uploads are not signed over their bytes (as the AWS CLI over HTTPS): the SDK would SHA-256
  // every part, a second pass over a 1 GiB output on the CPU the server shares in tests and
  // benches; an object's name is its content hash, checked whenever it is read back.
  client.middlewareStack.add((next, context) => async (args) => {
    if (context.commandName === 'PutObjectCommand' || context.commandName === 'UploadPartCommand') {
      (args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
    }
    return next(args);
  }, { step: 'build', name: 'dvclUnsignedPayload' });
  const { DirectGet } = await import('./s3-direct.js');
  const direct = new DirectGet(client, agents, location.prefix ? `${location.prefix}/` : '', SOCKET_TIMEOUT);
  return new S3Store({ url, bucket: location.bucket, endpoint }, location.prefix, client, sdk, jobs, direct);
}

/** Silence the SDK's Node < 22 deprecation warning (nothing a user can act on); a value the user set is kept. */
function withoutNodeVersionWarning<T>(make: () => T): T {
  if (process.env[VERSION_WARNING] !== undefined) return make();
  process.env[VERSION_WARNING] = 'true';
  try {
    return make();
  } finally {
    delete process.env[VERSION_WARNING];
  }
}

class S3Store implements ObjectStore {
  readonly url: string;
  private readonly base: string;
  private bucketChecked: Promise<void> | null = null;
  private libStorage: Promise<typeof import('@aws-sdk/lib-storage')> | null = null;

  constructor(
    private readonly remote: S3Remote, prefix: string, private readonly client: S3Client, private readonly sdk: S3Sdk, readonly jobs: number,
    private readonly direct: DirectGet,
  ) {
    this.url = remote.url;
    this.base = prefix ? `${prefix}/` : '';
  }

  async head(key: string): Promise<{ size: number } | null> {
    try {
      const r = await this.client.send(new this.sdk.HeadObjectCommand({ Bucket: this.remote.bucket, Key: this.base + key }));
      return { size: r.ContentLength ?? 0 };
    } catch (err) {
      if (httpStatus(err) !== 404) throw s3Error(this.remote, 'read', key, err);
    }
    // A HEAD has no body: a missing bucket is a 404 as a missing object is. Asked once per store.
    await (this.bucketChecked ??= this.checkBucket());
    return null;
  }

  private async checkBucket(): Promise<void> {
    try {
      await this.client.send(new this.sdk.HeadBucketCommand({ Bucket: this.remote.bucket }));
    } catch (err) {
      if (httpStatus(err) === 404) throw s3Error(this.remote, 'read', undefined, Object.assign(err as object, { Code: 'NoSuchBucket' }));
      // Credentials allowed to read objects may not be allowed to ask about the bucket: not a failure.
    }
  }

  async get(key: string): Promise<Readable> {
    try {
      const r = await this.client.send(new this.sdk.GetObjectCommand({ Bucket: this.remote.bucket, Key: this.base + key }));
      return r.Body as Readable;
    } catch (err) {
      throw s3Error(this.remote, 'read', key, err);
    }
  }

  async getBytes(key: string, limit: number): Promise<Buffer | Readable> {
    const direct = await this.direct.get(key, limit);
    if (direct) return direct;
    let r;
    try {
      r = await this.client.send(new this.sdk.GetObjectCommand({ Bucket: this.remote.bucket, Key: this.base + key }));
    } catch (err) {
      throw s3Error(this.remote, 'read', key, err);
    }
    const body = r.Body as Readable & { transformToByteArray(): Promise<Uint8Array> };
    if (r.ContentLength === undefined || r.ContentLength > limit) return body;
    // A body broken mid-way rejects as a broken stream would: the transfer is retried.
    const bytes = await body.transformToByteArray();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  async put(key: string, source: ObjectSource): Promise<void> {
    const { Upload } = await (this.libStorage ??= import('@aws-sdk/lib-storage'));
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.remote.bucket, Key: this.base + key, Body: source.bytes ?? source.open(), ContentLength: source.size, ContentType: 'application/octet-stream' },
      partSize: partSizeFor(source.size),
      queueSize: PARTS_IN_FLIGHT,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      throw s3Error(this.remote, 'write', key, err);
    }
  }

  async *list(prefix: string): AsyncIterable<ListedObject> {
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(new this.sdk.ListObjectsV2Command({ Bucket: this.remote.bucket, Prefix: this.base + prefix, ContinuationToken: token }));
      } catch (err) {
        throw s3Error(this.remote, 'list', prefix, err);
      }
      for (const o of page.Contents ?? []) {
        if (o.Key?.startsWith(this.base)) yield { key: o.Key.slice(this.base.length), size: o.Size ?? 0, mtime: o.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    const batches: string[][] = [];
    for (let i = 0; i < keys.length; i += DELETE_BATCH) batches.push(keys.slice(i, i + DELETE_BATCH));
    await forEachLimit(batches, Math.max(1, Math.floor(this.jobs / 4)), async (batch) => {
      let r;
      try {
        r = await this.client.send(new this.sdk.DeleteObjectsCommand({
          Bucket: this.remote.bucket, Delete: { Objects: batch.map((k) => ({ Key: this.base + k })), Quiet: true },
        }));
      } catch (err) {
        // Some S3-compatible stores (GCS's XML API) have no multi-object delete.
        if (httpStatus(err) === 501 || (err as { name?: string }).name === 'NotImplemented') return this.deleteOneByOne(batch);
        throw s3Error(this.remote, 'delete', batch[0], err);
      }
      const failed = (r.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length) {
        const key = failed[0].Key?.slice(this.base.length);
        throw s3Error(this.remote, 'delete', key, Object.assign(new Error(failed[0].Message ?? 'not deleted'), { Code: failed[0].Code }));
      }
    });
  }

  private async deleteOneByOne(keys: string[]): Promise<void> {
    await forEachLimit(keys, this.jobs, async (key) => {
      try {
        await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: this.remote.bucket, Key: this.base + key }));
      } catch (err) {
        if (httpStatus(err) !== 404) throw s3Error(this.remote, 'delete', key, err);
      }
    });
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
