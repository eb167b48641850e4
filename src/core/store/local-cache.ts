import fs from 'node:fs';
import path from 'node:path';
import { oneLine } from '../errors.js';
import type { Hasher } from '../hashing/hash.js';
import { abs } from '../util/paths.js';
import { isTemporary, temporaryBeside } from './files.js';
import { objectKey, OBJECTS_PREFIX } from './object-store.js';

/** The local object cache, `.dvcl/objects/`: the remote's layout below `<algo>/<2 hex>/<rest>`. */
export const CACHE_DIR = 'objects';

const STAT = { bigint: true, throwIfNoEntry: false } as const;

/** Objects renamed into place, never fsynced: every reader checks an object's hash, so a torn one is never placed. */
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

  /** Copy (reflink) `src` in as the object of `hash` unless its stat changed meanwhile; true when the object is there. */
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

  /** Put a recorded output in (a directory's tree last, so a cached tree means its files are there). */
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

/** repro's filling of the cache (SPEC §10): never fails a stage; a failure is one warning per run. */
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

/** Every name in the cache's object folders, `<algo>/<2 hex>/<name>`; folders are not followed through symlinks. */
export function* cacheEntries(dir: string): Generator<{ algo: string; two: string; name: string; file: string }> {
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
      for (const name of fs.readdirSync(sub)) yield { algo: a.name, two: two.name, name, file: path.join(sub, name) };
    }
  }
}

/** The temporaries a killed writer left in the cache (`<object>.tmp-<pid>-<hex>`), for gc. */
export function* cacheTemporaries(dir: string): Generator<string> {
  for (const e of cacheEntries(dir)) if (isTemporary(e.name)) yield e.file;
}
