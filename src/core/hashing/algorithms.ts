// The content hash algorithms (`settings.hash`): their names, and a streaming hasher of each.
import { createRequire } from 'node:module';
import type { IHasher } from 'hash-wasm';

export type HashAlgorithm = 'xxh128' | 'blake3' | 'sha256' | 'md5';

/** The first is the default. */
export const HASH_ALGORITHMS: readonly HashAlgorithm[] = ['xxh128', 'blake3', 'sha256', 'md5'];

/** The algorithm of a recorded `algo:hex`; null for a prefix dvcl does not know (a newer dvcl's, a hand edit). */
export function algorithmOf(hash: string): HashAlgorithm | null {
  const algo = hash.slice(0, hash.indexOf(':')) as HashAlgorithm;
  return HASH_ALGORITHMS.includes(algo) ? algo : null;
}

// hash-wasm ships one small build per algorithm beside the index of all: loading only the
// configured one saves start-up time on every command.
const BUILDS: Record<HashAlgorithm, { file: string; factory: string; hexLength: number }> = {
  xxh128: { file: 'xxhash128', factory: 'createXXHash128', hexLength: 32 },
  blake3: { file: 'blake3', factory: 'createBLAKE3', hexLength: 64 },
  sha256: { file: 'sha256', factory: 'createSHA256', hexLength: 64 },
  md5: { file: 'md5', factory: 'createMD5', hexLength: 32 },
};

export async function createHasher(algorithm: HashAlgorithm): Promise<IHasher> {
  const { file, factory } = BUILDS[algorithm];
  let mod: Record<string, () => Promise<IHasher>>;
  try {
    mod = createRequire(import.meta.url)(`hash-wasm/dist/${file}.umd.min.js`) as typeof mod;
  } catch {
    mod = (await import('hash-wasm')) as unknown as typeof mod; // a hash-wasm without per-algorithm builds
  }
  return mod[factory]();
}


export function hexLength(algorithm: HashAlgorithm): number {
  return BUILDS[algorithm].hexLength;
}

export function isAlgorithm(name: string): name is HashAlgorithm {
  return Object.hasOwn(BUILDS, name);
}
