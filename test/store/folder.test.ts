// The folder backend never reaches outside its folder through a symlink.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { objectKey } from '../../src/core/store/object-store.js';
import { openRemote } from '../../src/core/store/remote.js';

let tmp: string;
beforeEach(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-folder-')));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

const key = objectKey(`xxh128:${'ab'.repeat(16)}`);
const body = (s: string) => ({ size: Buffer.byteLength(s), open: () => Readable.from([Buffer.from(s)]) });

describe('folder remote: folders', () => {
  it('a folder removed while the store is open (a gc elsewhere) is made again by the next put', async () => {
    const remote = path.join(tmp, 'remote');
    fs.mkdirSync(remote);
    const store = await openRemote(remote, {}, { cwd: tmp });
    const other = objectKey(`xxh128:ab${'cd'.repeat(15)}`);
    await store.put(key, body('one'));
    fs.rmSync(path.join(remote, path.dirname(key)), { recursive: true });
    await store.put(other, body('two'));
    expect(fs.readFileSync(path.join(remote, other), 'utf8')).toBe('two');
    await store.close();
  });
});

describe('folder remote and symlinks', () => {
  it('refuses a folder on the key path that a symlink takes outside, and lists nothing through it', async () => {
    const remote = path.join(tmp, 'remote');
    const outside = path.join(tmp, 'outside');
    fs.mkdirSync(remote);
    fs.mkdirSync(path.join(outside, 'v1/objects/xxh128/ab'), { recursive: true });
    fs.writeFileSync(path.join(outside, 'v1/objects/xxh128/ab', 'ab'.repeat(15)), 'secret');
    fs.symlinkSync(outside, path.join(remote, 'dvcl'));
    const store = await openRemote(remote, {}, { cwd: tmp });
    await expect(store.put(key, body('x'))).rejects.toMatchObject({ reason: 'denied', message: expect.stringContaining('leads outside') });
    await expect(store.head(key)).rejects.toMatchObject({ reason: 'denied' });
    await expect(store.get(key)).rejects.toMatchObject({ reason: 'denied' });
    const listed = [];
    for await (const o of store.list('')) listed.push(o);
    expect(listed).toEqual([]);
    expect(fs.readdirSync(path.join(outside, 'v1/objects/xxh128/ab'))).toEqual(['ab'.repeat(15)]);
  });

  it('an object that is a symlink is not an object; a remote folder that is a symlink is fine', async () => {
    const real = path.join(tmp, 'real remote');
    fs.mkdirSync(path.join(real, path.dirname(key)), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'elsewhere'), 'not an object');
    fs.symlinkSync(path.join(tmp, 'elsewhere'), path.join(real, key));
    fs.symlinkSync(real, path.join(tmp, 'link to remote'));
    const store = await openRemote('link to remote', {}, { cwd: tmp });
    expect(await store.head(key)).toBeNull();
    await expect(store.get(key)).rejects.toMatchObject({ reason: 'not_found' });
    await store.put(key, body('the object'));
    expect(fs.lstatSync(path.join(real, key)).isFile()).toBe(true);
    expect(fs.readFileSync(path.join(tmp, 'elsewhere'), 'utf8')).toBe('not an object');
  });
});
