// A remote as `.pipelinerc` names it: its URL and `remote_options`, checked without the SDK.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DvclError } from '../errors.js';

/** `settings.remote_options`: used by S3 remotes, ignored by folders. */
export interface RemoteOptions {
  /** An S3-compatible endpoint (MinIO, R2, Ceph, GCS's XML API); AWS's when unset. */
  endpoint?: string;
  region?: string;
  /** Path-style requests (`endpoint/bucket/key`); default true when an endpoint is given. */
  pathStyle?: boolean;
  /** Connections kept open, and transfers worth running at once. */
  jobs?: number;
}

export type RemoteLocation =
  | { kind: 'folder'; root: string }
  | { kind: 's3'; bucket: string; prefix: string };

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;
const BUCKET = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** `s3://bucket/prefix` (the prefix as written, no percent-decoding), `file:///abs/path`, or a path relative to `cwd`. */
export function parseRemoteUrl(url: string, cwd: string): RemoteLocation {
  const bad = (why: string, hint?: string) =>
    new DvclError('config', `remote ${JSON.stringify(url)}: ${why}`, { suggestions: [hint ?? 'use s3://bucket/prefix, file:///path or a folder path'] });
  if (url === '') throw bad('empty');
  const scheme = SCHEME.exec(url)?.[1].toLowerCase();
  if (scheme === undefined) return { kind: 'folder', root: path.resolve(cwd, url) };
  if (scheme === 'file') {
    try {
      return { kind: 'folder', root: fileURLToPath(url) };
    } catch (err) {
      throw bad(`not a usable file: URL (${(err as Error).message})`);
    }
  }
  if (scheme === 's3') {
    const [bucket, ...rest] = url.slice('s3://'.length).split('/');
    if (bucket === '') throw bad('no bucket', 'write s3://bucket or s3://bucket/prefix');
    if (!BUCKET.test(bucket)) throw bad(`${JSON.stringify(bucket)} is not a bucket name`);
    const segments = rest.filter((s) => s !== '');
    if (segments.some((s) => s === '.' || s === '..')) throw bad('`.` and `..` have no meaning in an S3 prefix');
    return { kind: 's3', bucket, prefix: segments.join('/') };
  }
  if (scheme === 'gs') {
    throw bad('gs:// is not supported', 'use GCS through its S3 API: s3://bucket/prefix with remote_options.endpoint https://storage.googleapis.com and HMAC keys as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY');
  }
  throw bad(`unknown scheme ${scheme}://`);
}

/** The keys of `remote_options`, as written in `.pipelinerc` (the schema lists the same). */
export const REMOTE_OPTION_KEYS = ['endpoint', 'region', 'path_style', 'jobs'] as const;
type RemoteOptionKey = (typeof REMOTE_OPTION_KEYS)[number];
const isRemoteOptionKey = (key: string): key is RemoteOptionKey => (REMOTE_OPTION_KEYS as readonly string[]).includes(key);

export interface RemoteOptionsProblem {
  key: string[];
  message: string;
}

/** Plain data out, for config to position a problem in its file. */
export function checkRemoteOptions(raw: unknown): { options: RemoteOptions } | { problem: RemoteOptionsProblem } {
  if (raw === undefined || raw === null) return { options: {} };
  if (typeof raw !== 'object' || Array.isArray(raw)) return { problem: { key: [], message: 'must be a mapping' } };
  const options: RemoteOptions = {};
  for (const [key, value] of Object.entries(raw)) {
    const problem = (message: string) => ({ problem: { key: [key], message } });
    if (!isRemoteOptionKey(key)) return problem(`unknown option (known: ${REMOTE_OPTION_KEYS.join(', ')})`);
    // Exhaustive over REMOTE_OPTION_KEYS: a key added there without a case here does not compile.
    switch (key) {
      case 'endpoint':
        if (typeof value !== 'string' || !/^https?:\/\/[^/\s]+/.test(value)) return problem('must be an http:// or https:// URL');
        options.endpoint = value;
        break;
      case 'region':
        if (typeof value !== 'string' || value.trim() === '') return problem('must be a region name, e.g. us-east-1');
        options.region = value;
        break;
      case 'path_style':
        if (typeof value !== 'boolean') return problem('must be true or false');
        options.pathStyle = value;
        break;
      case 'jobs':
        if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 1024) return problem('must be a whole number from 1 to 1024');
        options.jobs = value as number;
        break;
      default: {
        const never: never = key;
        return problem(`unknown option ${String(never)}`);
      }
    }
  }
  return { options };
}
