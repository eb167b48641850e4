import { DvclError } from '../errors.js';
import { StoreError } from './object-store.js';

/** What identifies the remote in a message. */
export interface S3Remote {
  url: string;
  bucket: string;
  /** The endpoint as configured, or undefined for AWS's. */
  endpoint: string | undefined;
}

const DENIED = new Set([
  'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'ExpiredToken', 'InvalidToken', 'TokenRefreshRequired',
  'Forbidden', 'AllAccessDisabled', 'AccountProblem', 'InvalidSecurity', 'UnrecognizedClientException',
]);
const NETWORK = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE',
  'ECONNABORTED', 'TimeoutError', 'RequestTimeout', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'SELF_SIGNED_CERT_IN_CHAIN',
]);

interface SdkError {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  errors?: SdkError[];
  $metadata?: { httpStatusCode?: number };
}

/** The S3 error code, or the Node error code of a network failure, of an error from the SDK. */
export function errorCode(err: unknown): string {
  const e = (err ?? {}) as SdkError;
  return e.Code ?? e.code ?? e.errors?.find((x) => x.code)?.code ?? e.name ?? 'Error';
}

export function httpStatus(err: unknown): number | undefined {
  return ((err ?? {}) as SdkError).$metadata?.httpStatusCode;
}

/** One message naming the remote (and `key` when the failure is the object's) for an SDK failure. */
export function s3Error(remote: S3Remote, op: string, key: string | undefined, err: unknown): DvclError {
  if (err instanceof DvclError) return err;
  const code = errorCode(err);
  const status = httpStatus(err);
  const message = ((err ?? {}) as SdkError).message ?? String(err);
  const where = `remote ${remote.url}`;
  if (code === 'NoSuchBucket') {
    return new StoreError('no_bucket', `${where}: bucket ${remote.bucket} does not exist`, {
      cause: err, suggestions: remote.endpoint ? [`check the bucket name and remote_options.endpoint (${remote.endpoint})`] : [],
    });
  }
  if (code === 'CredentialsProviderError' || /could not load credentials/i.test(message)) {
    return new StoreError('no_credentials', `${where}: no AWS credentials found`, {
      cause: err,
      suggestions: ['set AWS_PROFILE (aws configure / aws sso login) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY'],
    });
  }
  if (status === 403 || DENIED.has(code)) {
    const shown = DENIED.has(code) ? code : 'HTTP 403';
    return new StoreError('denied', `${where}: access denied (${shown})`, {
      cause: err, suggestions: ['check the AWS credentials in use (AWS_PROFILE, AWS_ACCESS_KEY_ID, ~/.aws/credentials) and their permissions on the bucket'],
    });
  }
  if (NETWORK.has(code) && status === undefined) {
    return new StoreError('unreachable', `${where}: cannot reach ${remote.endpoint ?? 'S3'} (${code})`, { cause: err });
  }
  if (/region is missing/i.test(message)) {
    return new DvclError('config', `${where}: no AWS region configured`, {
      suggestions: ['set settings.remote_options.region in .pipelinerc, or AWS_REGION'],
    });
  }
  if (code === 'NoSuchKey' || code === 'NotFound' || status === 404) {
    return new StoreError('not_found', `${where}: no object ${key ?? ''}`.trimEnd(), { key, cause: err });
  }
  const detail = code === 'UnknownError' || code === 'Error' ? `HTTP ${status ?? '?'}` : code;
  return new StoreError('transfer', `${where}: cannot ${op}${key === undefined ? '' : ` ${key}`}: ${detail}: ${message}`, { key, cause: err });
}
