import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';

// The same shape as atomic-write.ts's temporaries (`<name>.tmp-<pid>-<hex>`), so one sweep of
// stale temporaries (by a dead pid) covers both.
const TEMPORARY = /\.tmp-\d+-[0-9a-f]+$/;

/** A fresh temporary name beside `file`, in the same folder so a rename places it atomically. */
export function temporaryBeside(file: string): string {
  return `${file}.tmp-${process.pid}-${PREFIX}${(counter++).toString(16)}`;
}

const PREFIX = randomBytes(2).toString('hex');
let counter = 0;

export function isTemporary(name: string): boolean {
  return TEMPORARY.test(name);
}

/** Write all of `chunk`: a short write (a full disk) is followed by another, which fails with the error. */
export async function writeAll(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  for (let off = 0; off < chunk.length;) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
}

/** Write `chunks` at `position` in one writev; a short write (a full disk) goes on from where it stopped, and fails with the error. */
export async function writevAt(fh: FileHandle, chunks: Buffer[], position: number): Promise<void> {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  let done = (await fh.writev(chunks, position)).bytesWritten;
  if (done === total) return;
  const rest = Buffer.concat(chunks);
  while (done < total) done += (await fh.write(rest, done, total - done, position + done)).bytesWritten;
}

/** fsync a folder so a rename in it survives a power cut; some systems cannot, then it is up to them. */
export async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch { /* not supported here */ } finally {
    await fh?.close().catch(() => {});
  }
}
