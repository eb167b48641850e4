import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pidAlive } from './process.js';

// Not write-file-atomic: its sync write ignores a short write (full disk) and renames the truncated
// file into place; here the write fails with ENOSPC/EFBIG and nothing is renamed.
/** Text handed over in pieces (a 100,000-item manifest is 42 MB: never whole in memory, as text or as bytes). */
export type PieceWriter = (emit: (piece: string) => void) => void;

export function writeFileAtomicSync(file: string, data: string | Buffer | PieceWriter, options: { fsync?: boolean } = {}): void {
  let mode = 0o666; // less the umask, as for any new file
  try {
    mode = fs.statSync(file).mode & 0o7777;
  } catch { /* a new file */ }
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  let fd: number | null = fs.openSync(tmp, 'wx', mode);
  try {
    const writeAll = (buf: Buffer) => {
      for (let off = 0; off < buf.length;) off += fs.writeSync(fd!, buf, off, buf.length - off);
    };
    if (typeof data === 'function') data((piece) => writeAll(Buffer.from(piece, 'utf8')));
    else writeAll(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    if (options.fsync !== false) fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = null;
    fs.renameSync(tmp, file);
    if (options.fsync !== false) syncDir(path.dirname(file));
  } catch (e) {
    if (fd !== null) {
      try {
        fs.closeSync(fd);
      } catch { /* the write error is the one to report */ }
    }
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** So a rename or a new entry in it survives a power cut; not supported everywhere. */
export function syncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some systems cannot open or fsync a directory; the entry's durability is then the file system's.
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

/** Leftovers of killed writers (`<name>.tmp-<pid>-…`), only of dead pids: a write in progress is never disturbed. */
export function removeStaleTemporaries(dir: string, names: string[]): string[] {
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  for (const e of entries) {
    const m = /^(.+)\.tmp-(\d+)(?:-[0-9a-f]+)?$/.exec(e);
    if (!m || !names.includes(m[1]) || pidAlive(Number(m[2]))) continue;
    try {
      fs.rmSync(path.join(dir, e), { force: true });
      removed.push(e);
    } catch { /* not ours to fight over */ }
  }
  return removed;
}
