// hashing/: content hashes of project paths. This module: files (through the stat cache) and directory trees.
import { type BigIntStats, closeSync, openSync, readlinkSync, readSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { IHasher } from 'hash-wasm';
import { DvclError } from '../errors.js';
import { nowNs } from '../util/racy-clean.js';
import { algorithmOf, createHasher, isAlgorithm, type HashAlgorithm } from './algorithms.js';
import { joinRaw, showBytes } from './raw-names.js';
import { StatCache } from './stat-cache.js';
import { ioError, joinAbs, joinRel, linkLine, readDir, readDirRaw, statPath } from './read-paths.js';

export interface TreeFile { rel: string; hash: string; abs: string | Buffer; size: number }

export interface PathHash {
  hash: string;
  size: number;
  nfiles?: number;
  isDir: boolean;
}

// One buffer for every read: a fresh one per read is much slower (first-touch page faults); larger
// chunks gain nothing, the hash being the limit (BENCHMARKS.md, figures behind design decisions).
const CHUNK = 128 * 1024;
const PIECE = 64 * 1024;
const SKIPPED_DIRS = new Set(['.git', '.dvcl']);
const NOT_NORMAL = /^\/|\/\/|\/$|(?:^|\/)\.\.?(?:\/|$)|\\/;


export class Hasher {
  readonly algorithm: HashAlgorithm;
  readonly stats = { hashedFiles: 0, cachedFiles: 0, bytesRead: 0 };

  private readonly root: string;
  private readonly realRoot: string;
  private hasher!: IHasher;
  private readonly buf = Buffer.allocUnsafeSlow(CHUNK);
  private readonly prefix: string;
  private family = new Map<HashAlgorithm, Hasher>();

  private constructor(root: string, algorithm: HashAlgorithm, private readonly cache: StatCache) {
    this.root = root;
    this.realRoot = realpathSync(root);
    this.algorithm = algorithm;
    this.prefix = `${algorithm}:`;
    this.family.set(algorithm, this);
  }

  /** `stateDir` null: the stat cache in memory only. `also`: the algorithms of hashes recorded earlier. */
  static async open(opts: { root: string; algorithm?: HashAlgorithm; stateDir?: string | null; also?: Iterable<HashAlgorithm> }): Promise<Hasher> {
    const algorithm = opts.algorithm ?? 'xxh128';
    if (!isAlgorithm(algorithm)) throw new Error(`unknown hash algorithm "${algorithm}"`);
    const stateDir = opts.stateDir === undefined ? path.join(opts.root, '.dvcl') : opts.stateDir;
    const others = [...new Set(opts.also ?? [])].filter((a) => a !== algorithm && isAlgorithm(a));
    // V8 compiles the WASM on background threads while this thread loads the stat cache.
    const pending = Promise.all([createHasher(algorithm), ...others.map((a) => createHasher(a))]);
    pending.catch(() => {}); // awaited below; a constructor error must not leave it unhandled
    const cacheFile = (a: HashAlgorithm) => (stateDir === null ? null : path.join(stateDir, 'cache', `stat-${a}`));
    const hashers = [algorithm, ...others].map((a) => new Hasher(opts.root, a, new StatCache(a, cacheFile(a))));
    const wasm = await pending;
    const family = new Map<HashAlgorithm, Hasher>();
    hashers.forEach((h, i) => {
      h.hasher = wasm[i];
      family.set(h.algorithm, h);
      h.family = family;
    });
    return hashers[0];
  }

  /** The hasher of `recorded`'s algorithm: a hash recorded before `settings.hash` changed is not a change. */
  for(recorded: string | undefined): Hasher {
    if (recorded === undefined || recorded.startsWith(this.prefix)) return this;
    const algo = algorithmOf(recorded);
    return (algo && this.family.get(algo)) || this;
  }

  /** Null when missing. A symlink the user names is followed, even out of the root. */
  hash(relPath: string): PathHash | null {
    // Paths from .pipelinerc and item globs are normal already: skip normalising (called per item).
    const rel = relPath && !NOT_NORMAL.test(relPath) ? relPath : path.posix.normalize(relPath).replace(/\/+$/, '') || '.';
    if (path.posix.isAbsolute(rel) || rel === '..' || rel.startsWith('../')) {
      throw new Error(`cannot hash ${relPath}: not inside the project root`);
    }
    const abs = rel === '.' ? this.root : joinAbs(this.root, rel);
    const st = statPath(rel, abs);
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

  hashString(data: string): string {
    return `${this.algorithm}:${this.hasher.init().update(data).digest('hex')}`;
  }

  /** hashString of the joined `parts` without joining them (that was a status's largest allocation). */
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

  save(): void {
    for (const h of this.family.values()) h.cache.save();
  }

  // Directory hash: hashString of `${rel}\0${fileHash}\n` (a file) or `${rel}\0link:${JSON.stringify(target)}\n`
  // (an unfollowed symlink) per entry below, sorted by rel (UTF-16 order). Unambiguous: names hold no NUL, hashes
  // and JSON strings no raw newline. A symlinked directory is followed only inside the root and not into a cycle;
  // `.git`, `.dvcl` are not entered; sockets, FIFOs, devices are skipped (reading a FIFO would block).
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
      for (const d of readDirRaw(joinRel(relDir, rel), abs, (name, raw) => rawEntry(joinRaw(Buffer.from(abs), raw), rel ? `${rel}/${name}` : name))) {
        const childRel = rel ? `${rel}/${d.name}` : d.name;
        const childAbs = joinAbs(abs, d.name);
        if (d.isDirectory()) {
          if (!SKIPPED_DIRS.has(d.name)) visit(childAbs, childRel, joinAbs(real, d.name));
          continue;
        }
        if (!d.isFile() && !d.isSymbolicLink()) continue;
        const key = joinRel(relDir, childRel);
        const st = statPath(key, childAbs);
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
      const lst = statPath(key, abs, false);
      if (lst?.isDirectory()) {
        for (const name of readDir(key, abs, 'buffer')) if (!SKIPPED_DIRS.has(name.toString())) rawEntry(joinRaw(abs, name), `${rel}/${showBytes(name)}`);
        return;
      }
      const st = lst?.isSymbolicLink() ? statPath(key, abs) : lst;
      if (st?.isFile()) file(rel, abs, st);
      else if (lst?.isSymbolicLink()) lines.push(`${rel}\0link:${JSON.stringify(showBytes(readlinkSync(abs, { encoding: 'buffer' })))}\n`);
    };
    visit(absDir, '', realpathSync(absDir));
    this.cache.walkedDir(relDir === '.' ? '' : `${relDir}/`);
    lines.sort();
    const hash = this.hashString(lines.join(''));
    return { hash, size, nfiles: lines.length, isDir: true, lines };
  }

  tree(relPath: string): { hash: string; size: number; text: string; files: TreeFile[] } | null {
    const rel = path.posix.normalize(relPath).replace(/\/+$/, '') || '.';
    const abs = rel === '.' ? this.root : joinAbs(this.root, rel);
    const st = statPath(rel, abs);
    if (!st?.isDirectory()) return null;
    const files: TreeFile[] = [];
    const { hash, size, lines } = this.hashDir(rel, abs, files);
    return { hash, size, text: lines.join(''), files };
  }

  /** A file dvcl just placed, content verified: trusted next time only once a tick separates ctime and save. */
  remember(rel: string, hash: string): void {
    const h = this.for(hash);
    if (h !== this) return h.remember(rel, hash);
    if (!hash.startsWith(this.prefix)) return; // an algorithm not loaded: the next status hashes it
    const st = statPath(rel, joinAbs(this.root, rel));
    if (st?.isFile()) this.cache.remember(rel, st, hash.slice(this.prefix.length));
  }

  private isInsideRoot(real: string): boolean {
    return real === this.realRoot || real.startsWith(this.realRoot + path.sep);
  }

  private fileHash(rel: string, abs: string | Buffer, st: BigIntStats): string {
    const cached = this.cache.lookup(rel, st);
    if (cached !== null) {
      this.stats.cachedFiles++;
      return `${this.algorithm}:${cached}`;
    }
    // Taken before reading: a write during the read that leaves the stat unchanged must fall in
    // the racy window (see StatCache.record).
    const hashedAt = nowNs();
    const hex = this.readHex(rel, abs, Number(st.size));
    this.stats.hashedFiles++;
    this.cache.record(rel, st, hex, hashedAt);
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

  private forget(rel: string): void {
    this.cache.forget(rel);
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

