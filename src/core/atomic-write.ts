import { createRequire } from 'node:module';
import type WriteFileAtomic from 'write-file-atomic';

// write-file-atomic (and signal-exit under it) costs ~10-25 ms to load: loaded at the first write,
// so a command that writes nothing (status, dag, a no-op repro) never pays for it. createRequire
// rather than import(): the callers are synchronous, and a bundler leaves it to run time.
let loaded: typeof WriteFileAtomic | undefined;

/** write-file-atomic's `sync`: temporary file, optional fsync, rename. */
export function writeFileAtomicSync(file: string, data: string | Buffer, options?: WriteFileAtomic.Options): void {
  loaded ??= createRequire(import.meta.url)('write-file-atomic') as typeof WriteFileAtomic;
  loaded.sync(file, data, options);
}
