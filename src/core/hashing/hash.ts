import { type BigIntStats, closeSync, type Dirent, lstatSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { readlinkSync, readSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { IHasher } from 'hash-wasm';
import { writeFileAtomicSync } from '../util/atomic-write.js';
import { DvclError, oneLine } from '../errors.js';
import { isUndecodable, joinRaw, REPLACEMENT, showBytes } from './raw-names.js';

/** A content hash algorithm (`settings.hash` in `.pipelinerc`). */
export type HashAlgorithm = 'xxh128' | 'blake3' | 'sha256' | 'md5';

/** Every supported algorithm; the first is the default. */
export const HASH_ALGORITHMS: readonly HashAlgorithm[] = ['xxh128', 'blake3', 'sha256', 'md5'];

/**
 * The algorithm a recorded hash (`algo:hex`) was computed with; null when its prefix names none
 * dvcl knows (a newer dvcl's, or a hand edit).
 */
export function algorithmOf(hash: string): HashAlgorithm | null {
  const algo = hash.slice(0, hash.indexOf(':')) as HashAlgorithm;
  return HASH_ALGORITHMS.includes(algo) ? algo : null;
}

/** A file a directory's tree lists: its path below the directory, its hash, and where it is read from. */
export interface TreeFile { rel: string; hash: string; abs: string | Buffer; size: number }

/** The hash of a file or directory as recorded in `pipeline.lock`. `nfiles` only for directories. */
export interface PathHash {
  hash: string;
  size: number;
  nfiles?: number;
  isDir: boolean;
}

// hash-wasm ships one small build per algorithm (~20 KB, its WASM inlined) beside the index of all
// ~30 (~270 KB): loading only the configured one saves start-up time on every command.
const BUILDS: Record<HashAlgorithm, { file: string; factory: string; hexLength: number }> = {
  xxh128: { file: 'xxhash128', factory: 'createXXHash128', hexLength: 32 },
  blake3: { file: 'blake3', factory: 'createBLAKE3', hexLength: 64 },
  sha256: { file: 'sha256', factory: 'createSHA256', hexLength: 64 },
  md5: { file: 'md5', factory: 'createMD5', hexLength: 32 },
};

/** A fresh streaming hasher of `algorithm` (raw hex digests: a file's hash is `${algorithm}:${hex}`). */
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

// Measured on a page-cached 1 GiB file: 128 KiB, 256 KiB and 1 MiB chunks all hash at ~3.4 GB/s
// (xxh128; the hash, not the read, is the limit), whatever their offset in the allocation. What is
// 2-5x slower is allocating a fresh buffer per read (first-touch page faults), so allocate once.
const CHUNK = 128 * 1024;
/** Characters of a string fed to the hash at once by hashParts. */
const PIECE = 64 * 1024;
const SKIPPED_DIRS = new Set(['.git', '.dvcl']);
/** A relative path that path.posix.normalize would change: absolute, `//`, a `.` or `..` segment, a trailing `/`, or a backslash. */
const NOT_NORMAL = /^\/|\/\/|\/$|(?:^|\/)\.\.?(?:\/|$)|\\/;

/*
 * The stat cache file, `<stateDir>/cache/stat-<algo>`, is text:
 *   dvcl-stat-cache\t1\t<algo>\t<savedAtNs>\t<count>\n
 *   <path>\t<size>\t<mtimeNs>\t<ino>\t<ctimeNs>\t<hex>\n      (count lines)
 * with the path JSON-quoted when it holds a tab or newline or starts with a quote. Times are ns
 * decimals (they exceed 2^53). In memory an entry stays the text after the path, compared against
 * the present stat as text: no JSON.parse of 100k arrays (measured ~3x faster), and unchanged
 * entries are written back as they were read. Entries loaded from the file stay places in its text
 * (see LoadedCache) until this run replaces them.
 */
const CACHE_MAGIC = 'dvcl-stat-cache\t1';
/** States of a line of the loaded stat cache (LoadedCache.state); 0: not looked up in this run. */
const LOOKED_UP = 1;
const GONE = 2;
/** Allocated once: statSync is called per file, 100,000s of times. */
const STAT_OPTIONS = { bigint: true, throwIfNoEntry: false } as const;

/**
 * Content hashes of project paths, with a persistent stat cache so an unchanged file is read once.
 * Create with {@link Hasher.open}; everything after that is synchronous.
 */
export class Hasher {
  readonly algorithm: HashAlgorithm;
  /** Counters for this instance: files read and hashed, files answered from the cache, bytes read. */
  readonly stats = { hashedFiles: 0, cachedFiles: 0, bytesRead: 0 };

  private readonly root: string;
  private readonly realRoot: string;
  private hasher!: IHasher;
  private readonly buf = Buffer.allocUnsafeSlow(CHUNK);
  private readonly cacheFile: string | null;
  private readonly hexLength: number;
  /** The stat cache file as loaded; null when there is none, or it is unusable. */
  private loaded: LoadedCache | null = null;
  /**
   * Entries recorded in this run (path → the text after the path on its line). A path has an
   * entry here or a loaded line that is not GONE, never both.
   */
  private readonly fresh = new Map<string, string>();
  private readonly walked: string[] = [];
  private dirty = false;
  /** `algo:`, how each of its hashes starts. */
  private readonly prefix: string;
  /** The hashers of one project by algorithm, this one included (see {@link Hasher.for}). */
  private family = new Map<HashAlgorithm, Hasher>();

  private constructor(root: string, algorithm: HashAlgorithm, stateDir: string | null) {
    this.root = root;
    this.realRoot = realpathSync(root);
    this.algorithm = algorithm;
    this.prefix = `${algorithm}:`;
    this.hexLength = BUILDS[algorithm].hexLength;
    this.cacheFile = stateDir === null ? null : path.join(stateDir, 'cache', `stat-${algorithm}`);
    if (this.cacheFile) this.load(this.cacheFile);
    this.family.set(algorithm, this);
  }

  /**
   * Create a hasher for the project at `root` (absolute). The stat cache lives in `stateDir`
   * (default `<root>/.dvcl`); `null` keeps it in memory only. `also`: other algorithms to load,
   * those of hashes recorded earlier (see {@link Hasher.for}).
   */
  static async open(opts: { root: string; algorithm?: HashAlgorithm; stateDir?: string | null; also?: Iterable<HashAlgorithm> }): Promise<Hasher> {
    const algorithm = opts.algorithm ?? 'xxh128';
    if (!Object.hasOwn(BUILDS, algorithm)) throw new Error(`unknown hash algorithm "${algorithm}"`);
    const stateDir = opts.stateDir === undefined ? path.join(opts.root, '.dvcl') : opts.stateDir;
    const others = [...new Set(opts.also ?? [])].filter((a) => a !== algorithm && Object.hasOwn(BUILDS, a));
    // V8 compiles the WASM on background threads while this thread loads the stat cache.
    const pending = Promise.all([createHasher(algorithm), ...others.map((a) => createHasher(a))]);
    pending.catch(() => {}); // awaited below; a constructor error must not leave it unhandled
    const hashers = [algorithm, ...others].map((a) => new Hasher(opts.root, a, stateDir));
    const wasm = await pending;
    const family = new Map<HashAlgorithm, Hasher>();
    hashers.forEach((h, i) => {
      h.hasher = wasm[i];
      family.set(h.algorithm, h);
      h.family = family;
    });
    return hashers[0];
  }

  /**
   * The hasher that checks `recorded` (`algo:hex`): the one of its algorithm, each with its own
   * stat cache, so that a hash recorded before `settings.hash` changed is compared with one of the
   * same kind, not reported as changed. This one when `recorded` is undefined, or its algorithm
   * was not loaded or is unknown: the fresh hash then differs from it, and it counts as changed.
   */
  for(recorded: string | undefined): Hasher {
    if (recorded === undefined || recorded.startsWith(this.prefix)) return this;
    const algo = algorithmOf(recorded);
    return (algo && this.family.get(algo)) || this;
  }

  /**
   * Hash a project path (relative to the root, `/` separators). Returns null when it does not
   * exist (or is a dangling symlink). A file hashes its content; a directory hashes its listing
   * (see the comment on hashDir). The path itself is followed when it is a symlink, even out of the
   * root: the user named it. Throws a plain Error naming the path when something cannot be read.
   */
  hash(relPath: string): PathHash | null {
    // Paths from .pipelinerc and item globs are normal already: then skip normalising (per item, 100,000s of calls).
    const rel = relPath && !NOT_NORMAL.test(relPath) ? relPath : path.posix.normalize(relPath).replace(/\/+$/, '') || '.';
    if (path.posix.isAbsolute(rel) || rel === '..' || rel.startsWith('../')) {
      throw new Error(`cannot hash ${relPath}: not inside the project root`);
    }
    const abs = rel === '.' ? this.root : joinAbs(this.root, rel);
    const st = this.stat(rel, abs);
    if (st?.isFile()) return { hash: this.fileHash(rel, abs, st), size: Number(st.size), isDir: false };
    this.forget(rel);
    if (!st) return null;
    if (st.isDirectory()) {
      const d = this.hashDir(rel, abs);
      return { hash: d.hash, size: d.size, nfiles: d.nfiles, isDir: true };
    }
    const kind = st.isFIFO() ? 'a named pipe (FIFO)' : st.isSocket() ? 'a socket' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a regular file';
    throw new DvclError('config', `${rel} is ${kind}, not a file or folder: dvcl records deps and outs by their content`, {
      suggestions: ['declare the file or folder the command reads or writes through it instead'],
    });
  }

  /** Hash a string (as UTF-8), e.g. an aggregate over items. Returns `algo:hex`. */
  hashString(data: string): string {
    return `${this.algorithm}:${this.hasher.init().update(data).digest('hex')}`;
  }

  /**
   * hashString of the concatenation of `parts`, without building it: they are fed to the hash
   * ~64 K characters at a time (a 100,000-item stage's lines are ~10 MB, and one string of them
   * and its UTF-8 copy were the largest allocations of a status). `parts` must not use this Hasher.
   */
  hashParts(parts: Iterable<string>): string {
    const h = this.hasher.init();
    let piece = '';
    for (const part of parts) {
      piece += part;
      if (piece.length < PIECE) continue;
      // A surrogate pair cut in two would hash as two replacement characters: its first half waits.
      const cut = isHighSurrogate(piece.charCodeAt(piece.length - 1)) ? piece.length - 1 : piece.length;
      h.update(piece.slice(0, cut));
      piece = piece.slice(cut);
    }
    return `${this.algorithm}:${h.update(piece).digest('hex')}`;
  }

  /**
   * Write the stat cache if it changed (each algorithm's, see {@link Hasher.for}). Entries of files
   * not looked up in this run are kept (other stages use them); entries under a directory walked in
   * this run that the walk did not meet are dropped, as are entries of paths found missing, so
   * deleted files do not accumulate. A state dir that cannot be written (read-only, full) is
   * skipped silently: the cache is only an optimisation.
   */
  save(): void {
    for (const h of this.family.values()) h.saveOwn();
  }

  private saveOwn(): void {
    if (!this.cacheFile) return;
    this.pruneWalked();
    if (!this.dirty) return;
    const loaded = this.loaded;
    const lines = [`${CACHE_MAGIC}\t${this.algorithm}\t${nowNs()}\t${(loaded?.size ?? 0) + this.fresh.size}\n`];
    const line = (rel: string, entry: string) => lines.push(`${/^"|[\t\n\r]/.test(rel) ? JSON.stringify(rel) : rel}\t${entry}\n`);
    if (loaded) for (let n = 0; n < loaded.lines; n++) if (loaded.state[n] !== GONE) line(loaded.path(n), loaded.entry(n));
    for (const [rel, entry] of this.fresh) line(rel, entry);
    try {
      mkdirSync(path.dirname(this.cacheFile), { recursive: true });
      // No fsync: a file torn by a crash fails the count check and is ignored; it cannot be wrong.
      writeFileAtomicSync(this.cacheFile, lines.join(''), { fsync: false });
      this.dirty = false;
    } catch (err) {
      if (!isSystemError(err)) throw err;
    }
  }

  /*
   * Directory hash: hashString of the concatenation, over every entry below the directory sorted
   * by its relative path (plain UTF-16 code-unit order), of
   *   `${rel}\0${fileHash}\n`                    for a file (fileHash is `algo:hex`), or
   *   `${rel}\0link:${JSON.stringify(target)}\n` for a symlink that is not followed,
   * where rel is relative to the directory with `/` separators. This cannot be ambiguous: names
   * hold no NUL, and neither a file hash nor a JSON string holds a raw newline. Moving a directory
   * keeps its hash. Empty subdirectories contribute nothing; an empty directory hashes "".
   * Symlinks to files are followed wherever they point. A symlinked directory is followed only when
   * its real path is inside the root and does not contain a directory being walked (a cycle);
   * otherwise, like a dangling link, it is an entry hashed by its target string, never read. `.git`
   * and `.dvcl` directories are not entered; sockets, FIFOs and devices are skipped (reading a FIFO
   * would block). nfiles counts files and unfollowed links; size sums file sizes.
   */
  private hashDir(relDir: string, absDir: string, files?: TreeFile[]): PathHash & { lines: string[] } {
    // Each line starts with its path and a NUL, which sorts before every other character: sorting the
    // lines themselves (default sort: UTF-16 code units, as `<`) orders them by path.
    const lines: string[] = [];
    let size = 0;
    const stack: string[] = []; // real paths of the directories being walked
    const file = (childRel: string, childAbs: string | Buffer, st: BigIntStats): void => {
      const hash = this.fileHash(joinRel(relDir, childRel), childAbs, st);
      lines.push(`${childRel}\0${hash}\n`);
      files?.push({ rel: childRel, hash, abs: childAbs, size: Number(st.size) });
      size += Number(st.size);
    };
    const visit = (abs: string, rel: string, real: string): void => {
      stack.push(real);
      for (const d of this.readDirRaw(joinRel(relDir, rel), abs, (name, raw) => rawEntry(joinRaw(Buffer.from(abs), raw), rel ? `${rel}/${name}` : name))) {
        const childRel = rel ? `${rel}/${d.name}` : d.name;
        const childAbs = joinAbs(abs, d.name);
        if (d.isDirectory()) {
          if (!SKIPPED_DIRS.has(d.name)) visit(childAbs, childRel, joinAbs(real, d.name));
          continue;
        }
        if (!d.isFile() && !d.isSymbolicLink()) continue;
        const key = joinRel(relDir, childRel);
        const st = this.stat(key, childAbs);
        if (st?.isFile()) {
          file(childRel, childAbs, st);
        } else if (st?.isDirectory()) {
          if (SKIPPED_DIRS.has(d.name)) continue;
          const target = realpathSync(childAbs);
          const loops = stack.some((dir) => dir === target || dir.startsWith(target + path.sep));
          if (this.isInsideRoot(target) && !loops) visit(childAbs, childRel, target);
          else lines.push(linkLine(childRel, childAbs));
        } else if (!st) {
          lines.push(linkLine(childRel, childAbs)); // dangling or looping symlink
        }
      }
      stack.pop();
    };
    // A name that is not valid UTF-8 (see raw-names.ts), reached by its bytes: in the listing under
    // its bytes escaped, so it counts as every other file does. Links below it are not followed.
    const rawEntry = (abs: Buffer, rel: string): void => {
      const key = joinRel(relDir, rel);
      const lst = this.stat(key, abs, false);
      if (lst?.isDirectory()) {
        for (const name of this.readDir(key, abs, 'buffer')) if (!SKIPPED_DIRS.has(name.toString())) rawEntry(joinRaw(abs, name), `${rel}/${showBytes(name)}`);
        return;
      }
      const st = lst?.isSymbolicLink() ? this.stat(key, abs) : lst;
      if (st?.isFile()) file(rel, abs, st);
      else if (lst?.isSymbolicLink()) lines.push(`${rel}\0link:${JSON.stringify(showBytes(readlinkSync(abs, { encoding: 'buffer' })))}\n`);
    };
    visit(absDir, '', realpathSync(absDir));
    this.walked.push(relDir === '.' ? '' : `${relDir}/`);
    lines.sort();
    const hash = this.hashString(lines.join(''));
    return { hash, size, nfiles: lines.length, isDir: true, lines };
  }

  /**
   * A directory's tree: the text its hash is the hash of (see hashDir), which stored as an object
   * verifies itself, and the files it lists with where they are read from. Null when `rel` is not a
   * directory.
   */
  tree(relPath: string): { hash: string; size: number; text: string; files: TreeFile[] } | null {
    const rel = path.posix.normalize(relPath).replace(/\/+$/, '') || '.';
    const abs = rel === '.' ? this.root : joinAbs(this.root, rel);
    const st = this.stat(rel, abs);
    if (!st?.isDirectory()) return null;
    const files: TreeFile[] = [];
    const { hash, size, lines } = this.hashDir(rel, abs, files);
    return { hash, size, text: lines.join(''), files };
  }

  /**
   * Record that the file at `rel` has `hash` without reading it: dvcl has just placed it there, its
   * content verified (checkout, pull). Saved, the entry is trusted by the next command only once a
   * full timestamp tick lies between the file's ctime and the save (the racy-clean rule, see settled).
   */
  remember(rel: string, hash: string): void {
    const h = this.for(hash);
    if (h !== this) return h.remember(rel, hash);
    if (!hash.startsWith(this.prefix)) return; // an algorithm not loaded: the next status hashes it
    const st = this.stat(rel, joinAbs(this.root, rel));
    if (!st?.isFile()) return;
    const n = this.loaded ? this.loaded.find(rel) : -1;
    if (n >= 0) this.loaded!.drop(n);
    this.fresh.set(rel, `${st.size}\t${st.mtimeNs}\t${st.ino}\t${st.ctimeNs}\t${hash.slice(this.prefix.length)}`);
    this.dirty = true;
  }

  private isInsideRoot(real: string): boolean {
    return real === this.realRoot || real.startsWith(this.realRoot + path.sep);
  }

  /** The content hash of a regular file, from the stat cache when its stat is unchanged. */
  private fileHash(rel: string, abs: string | Buffer, st: BigIntStats): string {
    const size = Number(st.size);
    const sizeText = String(size);
    const mtime = String(st.mtimeNs);
    const ino = String(st.ino);
    const ctime = String(st.ctimeNs);
    const loaded = this.loaded;
    const n = loaded ? loaded.find(rel) : -1;
    if (n >= 0) {
      const hexAt = loaded!.match(n, sizeText, mtime, ino, ctime, this.hexLength);
      if (
        hexAt >= 0 &&
        // An entry first met in this run came from the file: git's racy-clean rule against the time
        // it was saved. (Entries recorded by fileHash below already passed the stricter check there.)
        (loaded!.state[n] === LOOKED_UP || st.ctimeNs < loaded!.settledBefore || settled(st.ctimeNs, loaded!.savedAt))
      ) {
        loaded!.state[n] = LOOKED_UP;
        this.stats.cachedFiles++;
        return `${this.algorithm}:${loaded!.slice(hexAt, hexAt + this.hexLength)}`;
      }
    }
    const key = `${sizeText}\t${mtime}\t${ino}\t${ctime}\t`;
    const entry = n >= 0 ? undefined : this.fresh.get(rel);
    if (entry?.length === key.length + this.hexLength && entry.startsWith(key)) {
      this.stats.cachedFiles++;
      return `${this.algorithm}:${entry.slice(key.length)}`;
    }
    // Taken before reading: a write during the read that leaves the stat unchanged must fall in
    // the racy window below.
    const hashedAt = nowNs();
    const hex = this.readHex(rel, abs, size);
    this.stats.hashedFiles++;
    if (settled(st.ctimeNs, hashedAt)) {
      if (n >= 0) loaded!.drop(n);
      this.fresh.set(rel, key + hex);
      this.dirty = true;
    } else {
      this.forget(rel);
    }
    return `${this.algorithm}:${hex}`;
  }

  private readHex(rel: string, abs: string | Buffer, size: number): string {
    let fd: number;
    try {
      fd = openSync(abs, 'r');
    } catch (err) {
      throw ioError(rel, err);
    }
    try {
      const h = this.hasher.init();
      let total = 0;
      for (;;) {
        const n = readSync(fd, this.buf, 0, CHUNK, null);
        if (n === 0) break;
        h.update(n === CHUNK ? this.buf : this.buf.subarray(0, n));
        total += n;
        // A short read that reaches the stat size is the end: saves a syscall per small file.
        if (n < CHUNK && total >= size) break;
      }
      this.stats.bytesRead += total;
      return h.digest('hex');
    } catch (err) {
      throw ioError(rel, err);
    } finally {
      closeSync(fd);
    }
  }

  /** stat following symlinks (or not); undefined when missing, dangling or looping. */
  private stat(rel: string, abs: string | Buffer, follow = true): BigIntStats | undefined {
    try {
      return follow ? statSync(abs, STAT_OPTIONS) : lstatSync(abs, STAT_OPTIONS);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENOENT') return undefined;
      throw ioError(rel, err);
    }
  }

  private readDir(rel: string, abs: string | Buffer, encoding: 'buffer'): Buffer[] {
    try {
      return readdirSync(abs, { encoding });
    } catch (err) {
      throw ioError(rel, err);
    }
  }

  /**
   * The entries of a directory, as Dirents with names decoded as UTF-8; each name that is not
   * valid UTF-8 goes to `undecodable` instead, with its bytes (see raw-names.ts).
   */
  private readDirRaw(rel: string, abs: string, undecodable: (shown: string, raw: Buffer) => void): Dirent[] {
    let entries: Dirent[];
    try {
      entries = readdirSync(abs, { withFileTypes: true });
    } catch (err) {
      throw ioError(rel, err);
    }
    if (!entries.some((d) => d.name.includes(REPLACEMENT))) return entries;
    // Names decoded alike (`\xff` and a real U+FFFD both read as U+FFFD) appear once per name on disk.
    const valid = new Set<string>();
    for (const raw of this.readDir(rel, abs, 'buffer')) {
      if (isUndecodable(raw)) undecodable(showBytes(raw), raw);
      else if (raw.includes(0xef)) valid.add(raw.toString('utf8'));
    }
    return entries.filter((d) => !d.name.includes(REPLACEMENT) || valid.delete(d.name));
  }

  private forget(rel: string): void {
    const n = this.loaded ? this.loaded.find(rel) : -1;
    if (n >= 0) {
      this.loaded!.drop(n);
      this.dirty = true;
    }
    if (this.fresh.delete(rel)) this.dirty = true;
  }

  /** Drops the loaded entries not looked up in this run under a walked directory (entries recorded in it were). */
  private pruneWalked(): void {
    const loaded = this.loaded;
    if (this.walked.length === 0) return;
    for (let n = 0; loaded && n < loaded.lines; n++) {
      if (loaded.state[n] === 0 && this.walked.some((prefix) => loaded.pathStartsWith(n, prefix))) {
        loaded.drop(n);
        this.dirty = true;
      }
    }
    this.walked.length = 0;
  }

  /** Load the cache file; anything unreadable or malformed leaves the cache empty. */
  private load(file: string): void {
    let text: string;
    try {
      text = readFileSync(file).toString('utf8'); // ~2x faster than readFileSync(file, 'utf8') on Node 20
    } catch {
      return;
    }
    this.loaded = LoadedCache.parse(text, this.algorithm);
  }
}

/**
 * The stat cache file as loaded: its text, where each line's path and entry are, and per line
 * whether this run looked it up or replaced it; no string per line. A status over 100,000 items
 * looks up 200,000 paths, mostly in the order they were saved: the line after the last one found
 * is tried first, compared in place; other paths are found through a table of line numbers by a
 * hash of the path. With a Map of the paths to entry strings and a Set of the paths looked up,
 * loading 200,000 entries took ~105 ms instead of ~65, and looking them up ~0.95 s instead of
 * ~0.65 s (~0.43 s of which are the stat calls themselves).
 */
class LoadedCache {
  /** Lines not GONE: the entries. */
  size = 0;
  /** Per line: 0, LOOKED_UP, or GONE when its path has another entry (or none, or a later line). */
  readonly state: Uint8Array;
  /** settled(ctime, savedAt) is true below this without computing it: its first test, once. */
  readonly settledBefore: bigint;
  /** Hashes of the paths (hashChars), by line. */
  private readonly hashes: Int32Array;
  /** Open addressing by path hash: a path's last line + 1; 0 when free. */
  private readonly index: Int32Array;
  /** The line after the last one found: the first candidate for the next lookup. */
  private next = 0;

  private constructor(
    private readonly text: string,
    /** When it was saved; its entries are checked against it once (racy-clean). */
    readonly savedAt: bigint,
    /** Where line 0 starts. */
    private readonly first: number,
    /** Where each line's entry starts (after its path and a tab) and ends (at a newline). */
    private readonly starts: number[],
    private readonly ends: number[],
    /** The paths JSON-quoted in the file, by line. */
    private readonly quoted: Map<number, string>,
  ) {
    this.state = new Uint8Array(starts.length);
    this.settledBefore = savedAt - SETTLED_AFTER;
    this.hashes = new Int32Array(starts.length);
    let size = 2;
    while (size < starts.length * 2) size *= 2;
    this.index = new Int32Array(size);
  }

  /** The text of a cache file, or null when it is not one dvcl wrote for this algorithm (or is torn). */
  static parse(text: string, algorithm: HashAlgorithm): LoadedCache | null {
    let pos = text.indexOf('\n') + 1;
    const head = text.slice(0, pos - 1).split('\t');
    if (pos === 0 || `${head[0]}\t${head[1]}` !== CACHE_MAGIC || head[2] !== algorithm) return null;
    if (!/^\d+$/.test(head[3] ?? '') || !/^\d+$/.test(head[4] ?? '')) return null;
    const first = pos;
    const starts: number[] = [];
    const ends: number[] = [];
    const quoted = new Map<number, string>();
    try {
      while (pos < text.length) {
        const eol = text.indexOf('\n', pos);
        const tab = text.indexOf('\t', pos);
        if (eol < 0 || tab < 0 || tab > eol) return null;
        if (text.charCodeAt(pos) === 0x22) quoted.set(starts.length, JSON.parse(text.slice(pos, tab)) as string);
        starts.push(tab + 1);
        ends.push(eol);
        pos = eol + 1;
      }
    } catch {
      return null; // a quoted path that is not JSON
    }
    const c = new LoadedCache(text, BigInt(head[3]), first, starts, ends, quoted);
    return c.indexPaths() === Number(head[4]) ? c : null;
  }

  get lines(): number {
    return this.starts.length;
  }

  /** The line of `rel` (not GONE), or -1. */
  find(rel: string): number {
    const n = this.next;
    if (n < this.starts.length && this.state[n] !== GONE) {
      const start = this.pathStart(n);
      // A quoted path (a `"` first) is never the same text as its path.
      if (this.starts[n] - 1 - start === rel.length && this.text.charCodeAt(start) !== 0x22 && this.text.startsWith(rel, start)) {
        this.next = n + 1;
        return n;
      }
    }
    const h = hashChars(rel, 0, rel.length);
    const mask = this.index.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const m = this.index[i] - 1;
      if (m < 0) return -1;
      if (this.hashes[m] === h && this.isPath(m, rel)) {
        if (this.state[m] === GONE) return -1;
        this.next = m + 1;
        return m;
      }
    }
  }

  /**
   * Where the hex of line n starts when its entry is `${size}\t${mtime}\t${ino}\t${ctime}\t${hex}`
   * with a hex of hexLength characters; otherwise -1. Compared in place, field by field (startsWith
   * of one concatenated key would compare it character by character, not as one block).
   */
  match(n: number, size: string, mtime: string, ino: string, ctime: string, hexLength: number): number {
    let p = this.starts[n];
    if ((p = afterField(this.text, p, size)) < 0 || (p = afterField(this.text, p, mtime)) < 0) return -1;
    if ((p = afterField(this.text, p, ino)) < 0 || (p = afterField(this.text, p, ctime)) < 0) return -1;
    return this.ends[n] - p === hexLength ? p : -1;
  }

  slice(from: number, to: number): string {
    return this.text.slice(from, to);
  }

  /** The entry of line n: the text after its path. */
  entry(n: number): string {
    return this.text.slice(this.starts[n], this.ends[n]);
  }

  path(n: number): string {
    return this.quoted.get(n) ?? this.text.slice(this.pathStart(n), this.starts[n] - 1);
  }

  pathStartsWith(n: number, prefix: string): boolean {
    const quoted = this.quoted.get(n);
    if (quoted !== undefined) return quoted.startsWith(prefix);
    const start = this.pathStart(n);
    return this.starts[n] - 1 - start >= prefix.length && this.text.startsWith(prefix, start);
  }

  /** Line n's path now has another entry, or none. */
  drop(n: number): void {
    if (this.state[n] === GONE) return;
    this.state[n] = GONE;
    this.size--;
  }

  private pathStart(n: number): number {
    return n === 0 ? this.first : this.ends[n - 1] + 1;
  }

  private isPath(n: number, rel: string): boolean {
    const quoted = this.quoted.get(n);
    if (quoted !== undefined) return quoted === rel;
    const start = this.pathStart(n);
    return this.starts[n] - 1 - start === rel.length && this.text.startsWith(rel, start);
  }

  /**
   * Fills the index; a path on several lines is the last one's (as Map.set would have it), the
   * others are GONE. Returns the number of paths: the count the file's header must give.
   */
  private indexPaths(): number {
    const mask = this.index.length - 1;
    for (let n = 0; n < this.starts.length; n++) {
      const quoted = this.quoted.get(n);
      const h = quoted === undefined ? hashChars(this.text, this.pathStart(n), this.starts[n] - 1) : hashChars(quoted, 0, quoted.length);
      this.hashes[n] = h;
      for (let i = h & mask; ; i = (i + 1) & mask) {
        const m = this.index[i] - 1;
        if (m >= 0 && (this.hashes[m] !== h || !this.isPath(m, this.path(n)))) continue;
        if (m >= 0) this.state[m] = GONE;
        else this.size++;
        this.index[i] = n + 1;
        break;
      }
    }
    return this.size;
  }
}

/** The widest racy window of settled(): a ctime older than this is settled whatever its unit. */
const SETTLED_AFTER = 2_000_000_000n;

/*
 * Racy-clean (as git's index): a file changed again within the same timestamp tick as the stat we
 * recorded keeps the same stat, so an entry is trusted only when its ctime (which covers content
 * and utimes changes alike) lies a full tick before the moment it was hashed. Ticks: Linux stamps
 * files from a clock that advances per jiffy (<= 10 ms); FAT has 2 s, ext3/HFS+ 1 s. A ctime whose
 * ns part is 0 may come from a whole-second filesystem, one ending in zeros from a 10 or 100 ms one:
 * the window is twice the coarsest unit the ctime could have been rounded to, at least 20 ms.
 */
export function settled(ctimeNs: bigint, at: bigint): boolean {
  if (at - ctimeNs > SETTLED_AFTER) return true; // older than the widest window: the common case, decided cheaply
  const frac = ctimeNs % 1_000_000_000n;
  let unit = 1n;
  if (frac === 0n) unit = 1_000_000_000n;
  else while (unit < 100_000_000n && frac % (unit * 10n) === 0n) unit *= 10n;
  const window = unit * 2n > 20_000_000n ? unit * 2n : 20_000_000n;
  return ctimeNs < at - window;
}

/** FNV-1a of the UTF-16 code units of s from `from` to `to`. */
function hashChars(s: string, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

/** Where the field after `field` and its tab starts, when `text` has them at `pos`; otherwise -1. */
function afterField(text: string, pos: number, field: string): number {
  return text.startsWith(field, pos) && text.charCodeAt(pos + field.length) === 0x09 ? pos + field.length + 1 : -1;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** A directory's absolute path joined with an entry name (path.join, less its normalising). */
function joinAbs(dir: string, name: string): string {
  return dir.endsWith(path.sep) ? dir + name : dir + path.sep + name;
}

/** `rel` (relative to the directory `relDir`) as a project path. */
function joinRel(relDir: string, rel: string): string {
  if (!rel) return relDir;
  return relDir === '.' ? rel : `${relDir}/${rel}`;
}

function linkLine(rel: string, abs: string): string {
  return `${rel}\0link:${JSON.stringify(readlinkSync(abs))}\n`;
}

/** Now, in ns since the epoch (at ms resolution), as file times are compared. */
export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

function isSystemError(err: unknown): boolean {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
}

function ioError(rel: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  return new Error(oneLine(`cannot read ${rel}: ${e.message}`), { cause: err });
}
