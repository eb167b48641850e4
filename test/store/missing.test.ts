// The choice missingObjects makes, against a synthetic remote of any size (no network).
import { describe, expect, it } from 'vitest';
import { missingObjects } from '../../src/core/store/missing.js';
import { type ListedObject, objectKey, type ObjectStore } from '../../src/core/store/object-store.js';

/** A remote of `perFolder` objects in each 2-hex folder, plus `held`; counts what it is asked. */
function syntheticRemote(perFolder: number, held: string[]) {
  const heldKeys = new Set(held.map(objectKey));
  const calls = { head: 0, list: [] as string[] };
  const store: ObjectStore = {
    url: 'synthetic://remote',
    jobs: 16,
    async head(key) {
      calls.head++;
      return heldKeys.has(key) ? { size: 1 } : null;
    },
    async get() {
      throw new Error('not used');
    },
    async put() {},
    async *list(prefix): AsyncIterable<ListedObject> {
      calls.list.push(prefix);
      for (let f = 0; f < 256; f++) {
        const folder = `dvcl/v1/objects/xxh128/${f.toString(16).padStart(2, '0')}/`;
        if (!folder.startsWith(prefix) && !prefix.startsWith(folder)) continue;
        for (let i = 0; i < perFolder; i++) yield { key: `${folder}${'e'.repeat(22)}${i.toString(16).padStart(8, '0')}`, size: 1, mtime: new Date(0) };
      }
      for (const k of heldKeys) if (k.startsWith(prefix)) yield { key: k, size: 1, mtime: new Date(0) };
    },
    async deleteMany() {},
    async close() {},
  };
  return { store, calls };
}

const hashes = (n: number) => Array.from({ length: n }, (_, i) => `xxh128:${((i * 2654435761) >>> 0).toString(16).padStart(8, '0')}${'0'.repeat(24)}`);

describe('missingObjects strategy', () => {
  it('a small remote: one sample folder, then one listing of everything', async () => {
    const want = hashes(10_000);
    const { store, calls } = syntheticRemote(2, want.slice(0, 100));
    const missing = await missingObjects(store, want);
    expect(missing).toEqual(want.slice(100));
    expect(calls.head).toBe(0);
    expect(calls.list).toEqual([expect.stringMatching(/\/[0-9a-f]{2}\/$/), 'dvcl/v1/objects/xxh128/']);
  });

  it('a remote of 10,000 and 10,000 hashes: one sample, then 16 listings at once (one per first hex digit), not 10 pages in a row', async () => {
    const want = hashes(10_000);
    const { store, calls } = syntheticRemote(40, want.slice(0, 10));
    expect((await missingObjects(store, want)).length).toBe(9990);
    expect(calls.head).toBe(0);
    expect(calls.list.slice(1).sort()).toEqual([...'0123456789abcdef'].map((h) => `dvcl/v1/objects/xxh128/${h}`));
  });

  it('a huge remote and 10,000 hashes: by first hex digit (18 pages each) rather than 256 folders (2 pages each, 16 at a time)', async () => {
    const want = hashes(10_000);
    const { store, calls } = syntheticRemote(1100, want.slice(0, 10));
    expect((await missingObjects(store, want)).length).toBe(9990);
    expect(calls.head).toBe(0);
    expect(calls.list.length).toBe(17);
    expect(calls.list).not.toContain('dvcl/v1/objects/xxh128/');
  });

  it('a very large remote and a thousand hashes in a few folders: those folders, not the remote', async () => {
    const want = hashes(100_000).filter((h) => h.startsWith('xxh128:0')).slice(0, 1000);
    const { store, calls } = syntheticRemote(20_000, want.slice(0, 10));
    expect((await missingObjects(store, want)).length).toBe(990);
    const folders = new Set(want.map((h) => h.slice(7, 9)));
    expect(calls.list.length).toBe(folders.size);
    expect(calls.list.every((p) => /\/0[0-9a-f]\/$/.test(p))).toBe(true);
  });

  it('a huge remote and a hundred hashes: one sample, then HEADs', async () => {
    const want = hashes(100);
    const { store, calls } = syntheticRemote(1100, [want[50]]);
    expect(await missingObjects(store, want)).toEqual(want.filter((_, i) => i !== 50));
    expect(calls.list.length).toBe(1);
    expect(calls.head).toBeLessThan(100);
  });

  it('below 64 hashes, HEADs only; duplicates asked once; order kept', async () => {
    const want = hashes(10);
    const { store, calls } = syntheticRemote(0, [want[3]]);
    expect(await missingObjects(store, [...want, ...want])).toEqual(want.filter((_, i) => i !== 3));
    expect(calls).toEqual({ head: 10, list: [] });
  });

  it('a malformed hash fails before any request', async () => {
    const { store, calls } = syntheticRemote(0, []);
    await expect(missingObjects(store, ['xxh128:nothex'])).rejects.toThrow(/not a content hash/);
    expect(calls.head + calls.list.length).toBe(0);
  });
});
