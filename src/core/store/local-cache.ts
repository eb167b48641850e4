import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { oneLine } from '../errors.js';
import type { Hasher } from '../hashing/hash.js';
import { abs } from '../util/paths.js';
import { isTemporary, temporaryBeside } from './files.js';
import { objectKey, OBJECTS_PREFIX } from './object-store.js';

/** The local object cache, `.dvcl/objects/`: the remote's layout below `<algo>/<2 hex>/<rest>`. */
export const CACHE_DIR = 'objects';

const STAT = { bigint: true, throwIfNoEntry: false } as const;

/**
 * The local object cache of a project. Objects are written whole and renamed into place, never
 * fsynced: the cache is a copy of what the workspace or the remote holds, and every reader checks
 * an object's hash before it uses it (checkout hashes while it places, push while it uploads), so a
 * torn object after a power cut is found and replaced, never placed.
 */
export class LocalCache {
  /** Folders known to exist: per item output, a mkdir is a syscall saved. */
  private readonly made = new Set<string>();

  constructor(readonly dir: string) {}

  static of(stateDir: string): LocalCache {
    return new LocalCache(path.join(stateDir, CACHE_DIR));
  }

  /** Where the object of `hash` is (or would be). */
  file(hash: string): string {
    return path.join(this.dir, objectKey(hash).slice(OBJECTS_PREFIX.length));
  }

  has(hash: string): boolean {
    return fs.statSync(this.file(hash), { throwIfNoEntry: false })?.isFile() ?? false;
  }

  /**
   * Copy the file `src` in as the object of `hash` (a reflink where the file system can, else a
   * copy); nothing when the object is there already. A source whose stat changed during the copy
   * is left out: it is no longer the content that was hashed. True when the object is there now.
   */
  addFile(hash: string, src: string | Buffer, before = fs.statSync(src, STAT)): boolean {
    const dest = this.file(hash);
    if (fs.statSync(dest, { throwIfNoEntry: false })) return true;
    if (!before?.isFile()) return false;
    this.ensureDir(path.dirname(dest));
    const tmp = temporaryBeside(dest);
    try {
      fs.copyFileSync(src, tmp, fs.constants.COPYFILE_FICLONE);
      const after = fs.statSync(src, STAT);
      if (!after || after.size !== before.size || after.mtimeNs !== before.mtimeNs || after.ctimeNs !== before.ctimeNs) {
        fs.rmSync(tmp, { force: true });
        return false;
      }
      fs.renameSync(tmp, dest);
      return true;
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
  }

  /**
   * {@link addFile} without blocking: pull copies each file it downloads in while other transfers
   * go on (blocking, these copies were a sixth of a pull of 10,000 small files).
   */
  async addFileAsync(hash: string, src: string): Promise<boolean> {
    const dest = this.file(hash);
    if (await fsp.stat(dest).then(() => true, () => false)) return true;
    const before = await fsp.stat(src, { bigint: true }).catch(() => null);
    if (!before?.isFile()) return false;
    this.ensureDir(path.dirname(dest));
    const tmp = temporaryBeside(dest);
    try {
      await fsp.copyFile(src, tmp, fs.constants.COPYFILE_FICLONE);
      const after = await fsp.stat(src, { bigint: true }).catch(() => null);
      if (!after || after.size !== before.size || after.mtimeNs !== before.mtimeNs || after.ctimeNs !== before.ctimeNs) {
        await fsp.rm(tmp, { force: true });
        return false;
      }
      await fsp.rename(tmp, dest);
      return true;
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw e;
    }
  }

  /** Store `text` (a directory's tree) as the object of `hash`, which the caller computed from it. */
  addText(hash: string, text: string): void {
    const dest = this.file(hash);
    if (fs.existsSync(dest)) return;
    this.ensureDir(path.dirname(dest));
    const tmp = temporaryBeside(dest);
    try {
      fs.writeFileSync(tmp, text, { flag: 'wx' });
      fs.renameSync(tmp, dest);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
  }

  /** The text of a tree object, or null when the cache does not hold it. */
  readText(hash: string): string | null {
    try {
      return fs.readFileSync(this.file(hash), 'utf8');
    } catch {
      return null;
    }
  }

  /** Drop an object found corrupt, so that the next pull fetches it again. */
  remove(hash: string): void {
    fs.rmSync(this.file(hash), { force: true });
  }

  /**
   * Put a recorded output in: a file as its object, a directory as its files plus its tree object
   * (the tree last, so that a tree in the cache means its files are there too). Nothing when the
   * output no longer has `hash`. Returns whether it is in the cache now.
   */
  addOutput(hasher: Hasher, root: string, rel: string, hash: string): boolean {
    const src = abs(root, rel);
    const st = fs.statSync(src, STAT);
    if (!st) return false;
    if (!st.isDirectory()) return this.addFile(hash, src, st);
    if (this.has(hash)) return true;
    const tree = hasher.for(hash).tree(rel);
    if (!tree || tree.hash !== hash) return false;
    for (const f of tree.files) if (!this.addFile(f.hash, f.abs)) return false;
    this.addText(hash, tree.text);
    return true;
  }

  private ensureDir(dir: string): void {
    if (this.made.has(dir)) return;
    fs.mkdirSync(dir, { recursive: true });
    this.made.add(dir);
  }
}

/**
 * What `repro` keeps of each out it records and each item output that succeeds (SPEC §10), unless
 * `settings.cache: false`. Never fails a stage: the cache is an optimisation; a failure to fill it
 * (a full disk) is one warning per run.
 */
export class ReproCache {
  private warned = false;
  private readonly cache: LocalCache;

  constructor(private readonly p: { cfg: { root: string }; stateDir: string; hasher: Hasher }, private readonly warn?: (msg: string) => void) {
    this.cache = LocalCache.of(p.stateDir);
  }

  /** The run's cache, or null when `settings.cache` is false. */
  static of(p: { cfg: { root: string; settings: { cache?: boolean } }; stateDir: string; hasher: Hasher }, warn?: (msg: string) => void): ReproCache | null {
    return p.cfg.settings.cache === false ? null : new ReproCache(p, warn);
  }

  add(rel: string, hash: string): void {
    try {
      this.cache.addOutput(this.p.hasher, this.p.cfg.root, rel, hash);
    } catch (e) {
      if (this.warned) return;
      this.warned = true;
      this.warn?.(oneLine(`cannot keep ${rel} in the local cache .dvcl/${CACHE_DIR}/ (${(e as Error).message}): \`dvcl checkout\` cannot restore it; the run goes on`));
    }
  }
}

/** The temporaries a killed writer left in the cache (`<object>.tmp-<pid>-<hex>`), for gc. */
export function* cacheTemporaries(dir: string): Generator<string> {
  let algos: fs.Dirent[];
  try {
    algos = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const a of algos) {
    if (!a.isDirectory()) continue;
    for (const two of fs.readdirSync(path.join(dir, a.name), { withFileTypes: true })) {
      if (!two.isDirectory()) continue;
      const sub = path.join(dir, a.name, two.name);
      for (const name of fs.readdirSync(sub)) if (isTemporary(name)) yield path.join(sub, name);
    }
  }
}
