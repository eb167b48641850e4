// Object keys, remote URLs and the choice of remote: pure functions over plain values.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DvclError } from '../../src/core/errors.js';
import { hashOfKey, objectKey, objectPrefix, StoreError } from '../../src/core/store/object-store.js';
import { noRemote, openRemote, resolveRemote } from '../../src/core/store/remote.js';
import { checkRemoteOptions, parseRemoteUrl } from '../../src/core/config/remote-settings.js';

const hex32 = '0123456789abcdef0123456789abcdef';
const hex64 = hex32 + hex32;

describe('objectKey / hashOfKey', () => {
  it.each([
    ['xxh128', hex32], ['md5', hex32], ['sha256', hex64], ['blake3', hex64],
  ])('%s: dvcl/v1/objects/<algo>/<2 hex>/<rest>, and back', (algo, hex) => {
    const key = objectKey(`${algo}:${hex}`);
    expect(key).toBe(`dvcl/v1/objects/${algo}/01/${hex.slice(2)}`);
    expect(hashOfKey(key)).toBe(`${algo}:${hex}`);
    expect(key.startsWith(objectPrefix(algo as 'md5'))).toBe(true);
    expect(key.startsWith(objectPrefix(algo as 'md5', '01'))).toBe(true);
  });

  it.each([
    '', 'xxh128', `xxh128:${hex32.toUpperCase()}`, `crc32:${hex32}`, `xxh128:${hex32}0`, 'xxh128:../../etc/passwd',
    `xxh128:${hex32}/x`, ` xxh128:${hex32}`, 'xxh128:ab',
  ])('refuses %j as a hash, naming it', (hash) => {
    let err: unknown;
    try {
      objectKey(hash);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DvclError);
    expect((err as DvclError).message).toContain(JSON.stringify(hash));
  });

  it.each([
    `dvcl/v1/objects/xxh128/01/${hex32.slice(2)}.tmp-123-abcdef01`,
    `dvcl/v2/objects/xxh128/01/${hex32.slice(2)}`,
    `dvcl/v1/objects/crc32/01/${hex32.slice(2)}`,
    `dvcl/v1/objects/xxh128/01`,
    `dvcl/v1/objects/xxh128/0/1${hex32.slice(2)}`,
    `dvcl/v1/objects/xxh128/01/${hex32.slice(2).toUpperCase()}`,
    `prefix/dvcl/v1/objects/xxh128/01/${hex32.slice(2)}`,
  ])('%s is not an object key', (key) => {
    expect(hashOfKey(key)).toBeNull();
  });
});

describe('parseRemoteUrl', () => {
  const cwd = '/work/project';
  it.each([
    ['s3://bucket', { kind: 's3', bucket: 'bucket', prefix: '' }],
    ['s3://bucket/', { kind: 's3', bucket: 'bucket', prefix: '' }],
    ['s3://team-bucket/projects/weather', { kind: 's3', bucket: 'team-bucket', prefix: 'projects/weather' }],
    ['s3://b/a//b/', { kind: 's3', bucket: 'b', prefix: 'a/b' }],
    ['S3://b/ünï code/x y', { kind: 's3', bucket: 'b', prefix: 'ünï code/x y' }],
    ['s3://b/a%20b', { kind: 's3', bucket: 'b', prefix: 'a%20b' }],
    ['file:///mnt/share/dvcl', { kind: 'folder', root: '/mnt/share/dvcl' }],
    ['file:///mnt/my%20share', { kind: 'folder', root: '/mnt/my share' }],
    ['/mnt/share', { kind: 'folder', root: '/mnt/share' }],
    ['remote dir', { kind: 'folder', root: path.resolve(cwd, 'remote dir') }],
    ['../shared/dvcl', { kind: 'folder', root: path.resolve(cwd, '../shared/dvcl') }],
  ])('%s', (url, expected) => {
    expect(parseRemoteUrl(url, cwd)).toEqual(expected);
  });

  it.each([
    ['s3://', /no bucket/],
    ['s3:///prefix', /no bucket/],
    ['s3://bu cket/p', /not a bucket name/],
    ['s3://b/../x', /`\.` and `\.\.`/],
    ['gs://bucket/p', /gs:\/\/ is not supported/],
    ['https://example.org/x', /unknown scheme https:\/\//],
    ['file://otherhost/x', /not a usable file: URL/],
    ['', /empty/],
  ])('refuses %j (exit 2, naming the value)', (url, why) => {
    let err: unknown;
    try {
      parseRemoteUrl(url, cwd);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DvclError);
    expect(err).toMatchObject({ exit: 2, code: 'config' });
    expect((err as Error).message).toContain(`remote ${JSON.stringify(url)}`);
    expect((err as Error).message).toMatch(why);
    expect((err as DvclError).suggestions.length).toBe(1);
  });

  it('openRemote refuses a bad URL before loading anything', async () => {
    await expect(openRemote('gs://b/p', {}, { cwd })).rejects.toMatchObject({ exit: 2, suggestions: [expect.stringContaining('storage.googleapis.com')] });
  });
});

describe('resolveRemote', () => {
  const shared = { remote: 's3://shared/p', options: { endpoint: 'http://shared:9000', region: 'eu-west-1' } };
  const local = { remote: '/mnt/local', options: { region: 'us-east-2' } };

  it('takes the -r flag, then DVCL_REMOTE, then .pipelinerc.local, then .pipelinerc', () => {
    expect(resolveRemote({ flag: 's3://flag/x', env: 's3://env/x', local, shared })).toMatchObject({ url: 's3://flag/x', from: 'flag' });
    expect(resolveRemote({ env: 's3://env/x', local, shared })).toMatchObject({ url: 's3://env/x', from: 'env' });
    expect(resolveRemote({ local, shared })).toMatchObject({ url: '/mnt/local', from: 'local' });
    expect(resolveRemote({ shared })).toMatchObject({ url: 's3://shared/p', from: 'shared' });
    expect(resolveRemote({ flag: '', env: '', local: { options: {} }, shared })).toMatchObject({ from: 'shared' });
    expect(resolveRemote({})).toBeNull();
    expect(resolveRemote({ flag: null, env: null, local: null, shared: null })).toBeNull();
  });

  it("merges the options, the local file's over the shared file's, whichever source named the URL", () => {
    expect(resolveRemote({ flag: 's3://flag/x', local, shared })?.options).toEqual({ endpoint: 'http://shared:9000', region: 'us-east-2' });
  });

  it('noRemote: exit 2 with the ways to set one', () => {
    const err = noRemote();
    expect(err).toMatchObject({ exit: 2, exitCode: 2, message: 'no remote configured' });
    expect(err.suggestions[0]).toMatch(/settings\.remote.*\.pipelinerc.*DVCL_REMOTE.*-r URL/);
  });
});

describe('checkRemoteOptions', () => {
  it('turns the YAML mapping into options', () => {
    expect(checkRemoteOptions({ endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', path_style: false, jobs: 32 }))
      .toEqual({ options: { endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', pathStyle: false, jobs: 32 } });
    expect(checkRemoteOptions(undefined)).toEqual({ options: {} });
    expect(checkRemoteOptions(null)).toEqual({ options: {} });
  });

  it.each([
    [{ jobs: 0 }, ['jobs']],
    [{ jobs: '8' }, ['jobs']],
    [{ jobs: 2.5 }, ['jobs']],
    [{ endpoint: '127.0.0.1:9000' }, ['endpoint']],
    [{ region: '' }, ['region']],
    [{ path_style: 'yes' }, ['path_style']],
    [{ bucket: 'x' }, ['bucket']],
    [['endpoint'], []],
    ['http://x', []],
  ])('%j: a problem at %j', (raw, key) => {
    const r = checkRemoteOptions(raw);
    expect('problem' in r && r.problem.key).toEqual(key);
  });
});

describe('StoreError', () => {
  it('is a DvclError: exit 1 (oclif reads exit, --json exitCode), one line whatever the key holds', () => {
    const err = new StoreError('corrupt', 'remote x: object a\nb is corrupt', { key: 'a\nb' });
    expect(err).toBeInstanceOf(DvclError);
    expect(err).toMatchObject({ code: 'io', exit: 1, exitCode: 1, reason: 'corrupt', key: 'a\nb', remoteWide: false });
    expect(err.message).toBe('remote x: object a\\nb is corrupt');
    expect(new StoreError('denied', 'x').remoteWide).toBe(true);
  });
});
