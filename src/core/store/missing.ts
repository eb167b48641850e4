import type { HashAlgorithm } from '../hashing/algorithms.js';
import { hashOfKey, objectKey, objectPrefix, type ObjectStore } from './object-store.js';
import { forEachLimit } from './pool.js';

/** Below this many hashes, one HEAD each; from it on, listings. */
export const HEAD_LIMIT = 64;
/** Keys per listing page (S3's maximum, and what every S3-compatible store returns). */
const PAGE = 1000;

/** The hashes whose object `store` lacks: HEADs when few; else one 2-hex listing sizes the remote, then the way of fewest round trips (whole, by first hex digit, by folder, HEADs). */
export async function missingObjects(store: ObjectStore, hashes: Iterable<string>, opts: { jobs?: number } = {}): Promise<string[]> {
  const unique = [...new Set(hashes)];
  unique.forEach(objectKey); // a malformed hash fails here, before any request
  const jobs = Math.max(1, opts.jobs ?? store.jobs);
  const present = new Set<string>();
  const head = async (hashesToAsk: string[]): Promise<void> => {
    await forEachLimit(hashesToAsk, jobs, async (hash) => {
      if (await store.head(objectKey(hash))) present.add(hash);
    });
  };
  if (unique.length < HEAD_LIMIT) {
    await head(unique);
    return unique.filter((h) => !present.has(h));
  }
  const wanted = new Set(unique);
  const listInto = async (prefix: string): Promise<number> => {
    let n = 0;
    for await (const o of store.list(prefix)) {
      n++;
      const hash = hashOfKey(o.key);
      if (hash !== null && wanted.has(hash)) present.add(hash);
    }
    return n;
  };
  for (const [algorithm, byFolder] of groupByFolder(unique)) {
    const folders = [...byFolder.keys()];
    const sampled = await listInto(objectPrefix(algorithm, folders[0]));
    const rest = folders.slice(1);
    if (rest.length === 0) continue;
    // Round trips of each way, from the sample (hashes spread evenly over the 256 folders); a tie goes to fewer requests.
    const estimated = sampled * 256;
    const pages = (objects: number) => Math.max(1, Math.ceil(objects / PAGE));
    const firstHex = [...new Set(rest.map((f) => f[0]))];
    const restHashes = rest.flatMap((f) => byFolder.get(f)!);
    const ways: [number, () => Promise<unknown>][] = [
      [pages(estimated), () => listInto(objectPrefix(algorithm))], // the whole remote, page after page
      [Math.ceil(firstHex.length / jobs) * pages(estimated / 16), () => forEachLimit(firstHex, jobs, async (h) => void (await listInto(objectPrefix(algorithm) + h)))], // 16 listings at once
      [Math.ceil(rest.length / jobs) * pages(sampled), () => forEachLimit(rest, jobs, async (f) => void (await listInto(objectPrefix(algorithm, f))))], // the 2-hex folders involved
      [Math.ceil(restHashes.length / jobs), () => head(restHashes)],
    ];
    await ways.reduce((best, w) => (w[0] < best[0] ? w : best))[1]();
  }
  return unique.filter((h) => !present.has(h));
}

/** algorithm → 2-hex folder → hashes. */
function groupByFolder(hashes: string[]): Map<HashAlgorithm, Map<string, string[]>> {
  const out = new Map<HashAlgorithm, Map<string, string[]>>();
  for (const hash of hashes) {
    const colon = hash.indexOf(':');
    const algorithm = hash.slice(0, colon) as HashAlgorithm;
    const folder = hash.slice(colon + 1, colon + 3);
    let byFolder = out.get(algorithm);
    if (!byFolder) out.set(algorithm, (byFolder = new Map()));
    let list = byFolder.get(folder);
    if (!list) byFolder.set(folder, (list = []));
    list.push(hash);
  }
  return out;
}
