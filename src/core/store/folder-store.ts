import { closeSync, constants, fstatSync, openSync, readSync, type Dirent } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { DvclError } from '../errors.js';
import { isTemporary, syncDir, temporaryBeside, writeAll } from './files.js';
import type { ListedObject, ObjectSource, ObjectStore } from './object-store.js';
import { StoreError, type StoreFailure } from './object-store.js';
import { forEachLimit } from './pool.js';

const FOLDER_JOBS = 8;

/** A remote folder; it must exist (an unmounted share must not become a local folder); symlinks never followed. */
export async function openFolderStore(url: string, root: string): Promise<ObjectStore> {
  let real: string;
  try {
    real = await realpath(root);
    if (!(await stat(real)).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'is not a folder' : `cannot be opened (${code ?? String(err)})`;
    throw new StoreError(code === 'EACCES' ? 'denied' : 'unreachable', `remote ${url}: folder ${root} ${what}`, {
      suggestions: code === 'ENOENT' ? [`create the folder (mkdir -p ${JSON.stringify(root)}) or fix settings.remote`] : [],
    });
  }
  return new FolderStore(url, real);
}

class FolderStore implements ObjectStore {
  readonly jobs = FOLDER_JOBS;
  /** Folders already found to resolve inside the root. */
  private readonly inside = new Set<string>();

  constructor(readonly url: string, private readonly root: string) {}

  async head(key: string): Promise<{ size: number } | null> {
    const file = this.file(key);
    try {
      await this.checkInside(path.dirname(file));
      const st = await lstat(file);
      return st.isFile() ? { size: st.size } : null;
    } catch (err) {
      if (isAbsent(err)) return null;
      throw this.error('read', key, err);
    }
  }

  async get(key: string): Promise<Readable> {
    const file = this.file(key);
    try {
      await this.checkInside(path.dirname(file));
      const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
      const st = await fh.stat();
      if (!st.isFile()) {
        await fh.close();
        throw Object.assign(new Error('not a file'), { code: 'ENOENT' });
      }
      return fh.createReadStream({ highWaterMark: Math.max(1, Math.min(1024 * 1024, st.size + 1)) });
    } catch (err) {
      if (isAbsent(err) || (err as NodeJS.ErrnoException).code === 'ELOOP') {
        throw new StoreError('not_found', `remote ${this.url}: no object ${key}`, { key });
      }
      throw this.error('read', key, err);
    }
  }

  /** Small objects in three syscalls on this thread (open, fstat, read): a pull of 10,000 small files is mostly these. */
  async getBytes(key: string, limit: number): Promise<Buffer | Readable> {
    const file = this.file(key);
    let fd: number | undefined;
    try {
      await this.checkInside(path.dirname(file));
      fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
      const st = fstatSync(fd);
      if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' });
      if (st.size > limit) {
        closeSync(fd);
        fd = undefined;
        return await this.get(key);
      }
      const buf = Buffer.allocUnsafe(st.size);
      let n = 0;
      for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, n)) > 0;) n += r;
      return n === buf.length ? buf : buf.subarray(0, n);
    } catch (err) {
      if (isAbsent(err) || (err as NodeJS.ErrnoException).code === 'ELOOP') {
        throw new StoreError('not_found', `remote ${this.url}: no object ${key}`, { key });
      }
      throw this.error('read', key, err);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  async put(key: string, source: ObjectSource): Promise<void> {
    const file = this.file(key);
    if (isTemporary(path.basename(file))) throw new Error(`object key ${key} has the form of a temporary file`);
    const dir = path.dirname(file);
    const tmp = temporaryBeside(file);
    let fh: Awaited<ReturnType<typeof open>> | undefined;
    try {
      if (!this.inside.has(dir)) await mkdir(dir, { recursive: true }); // a folder found inside the root exists
      await this.checkInside(dir);
      fh = await open(tmp, 'wx').catch(async (e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
        this.inside.delete(dir); // removed since (a gc elsewhere): made again
        await mkdir(dir, { recursive: true });
        await this.checkInside(dir);
        return open(tmp, 'wx');
      });
      let bytes = 0;
      if (source.bytes) {
        bytes = source.bytes.length;
        await writeAll(fh, source.bytes);
      } else {
        for await (const chunk of source.open()) {
          bytes += (chunk as Buffer).length;
          await writeAll(fh, chunk as Buffer);
        }
      }
      if (bytes !== source.size) throw new StoreError('changed', `remote ${this.url}: ${key}: read ${bytes} bytes, expected ${source.size}`, { key });
      await fh.sync();
      await fh.close();
      fh = undefined;
      await rename(tmp, file);
      await syncDir(dir);
    } catch (err) {
      await fh?.close().catch(() => {});
      await rm(tmp, { force: true }).catch(() => {});
      // A DvclError is the source's (a file that changed, or cannot be read): it speaks for itself.
      throw err instanceof DvclError || !(err as NodeJS.ErrnoException).code ? err : this.error('write', key, err);
    }
  }

  async *list(prefix: string): AsyncIterable<ListedObject> {
    const slash = prefix.lastIndexOf('/');
    const base = slash < 0 ? '' : prefix.slice(0, slash);
    const dir = base ? this.file(base) : this.root;
    try {
      if (!(await lstat(dir)).isDirectory()) return;
      await this.checkInside(dir);
    } catch (err) {
      if (isAbsent(err)) return;
      throw this.error('list', prefix, err);
    }
    yield* this.walk(dir, base, prefix);
  }

  private async *walk(dir: string, rel: string, prefix: string): AsyncIterable<ListedObject> {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isAbsent(err)) return; // removed meanwhile
      throw this.error('list', rel, err);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const files: string[] = [];
    for (const d of entries) {
      const key = rel ? `${rel}/${d.name}` : d.name;
      // Symlinks are neither files nor folders here: never followed.
      if (d.isDirectory()) {
        if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) yield* this.walk(path.join(dir, d.name), key, prefix);
      } else if (d.isFile() && key.startsWith(prefix) && !isTemporary(d.name)) {
        files.push(key);
      }
    }
    // Stat in batches: a 2-hex folder of a big remote holds thousands of objects.
    for (let i = 0; i < files.length; i += 64) {
      const batch = files.slice(i, i + 64);
      const stats = await Promise.all(batch.map((key) => lstat(path.join(dir, path.posix.basename(key))).catch(() => null)));
      for (let j = 0; j < batch.length; j++) {
        const st = stats[j];
        if (st?.isFile()) yield { key: batch[j], size: st.size, mtime: st.mtime };
      }
    }
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    await forEachLimit(keys, this.jobs * 2, async (key) => {
      const file = this.file(key);
      try {
        await this.checkInside(path.dirname(file));
        await unlink(file);
      } catch (err) {
        if (!isAbsent(err)) throw this.error('delete', key, err);
      }
    });
  }

  async close(): Promise<void> {}

  /** The file of `key`; keys are ours (object keys), so a malformed one is a bug, not user input. */
  private file(key: string): string {
    const parts = key.split('/');
    if (parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\0') || p.includes('\\'))) {
      throw new Error(`malformed object key ${JSON.stringify(key)}`);
    }
    return path.join(this.root, ...parts);
  }

  /** Refuse a folder on a key's path that a symlink takes outside the root. */
  private async checkInside(dir: string): Promise<void> {
    if (this.inside.has(dir)) return;
    const real = await realpath(dir);
    if (real !== this.root && !real.startsWith(this.root + path.sep)) {
      throw new StoreError('denied', `remote ${this.url}: ${path.relative(this.root, dir)} leads outside the remote's folder (a symlink): refused`);
    }
    this.inside.add(dir);
  }

  private error(op: string, key: string, err: unknown): StoreError {
    if (err instanceof StoreError) return err;
    const e = err as NodeJS.ErrnoException;
    const reason: StoreFailure = e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS' ? 'denied'
      : e.code === 'ESTALE' || e.code === 'ENOTCONN' || e.code === 'EIO' ? 'unreachable' : 'transfer';
    return new StoreError(reason, `remote ${this.url}: cannot ${op} ${key}: ${e.message ?? String(err)}`, { key, cause: err });
  }
}

function isAbsent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
