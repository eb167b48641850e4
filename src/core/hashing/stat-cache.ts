// The stat cache: a file's hash kept with its stat, so an unchanged file is read once.
import type { BigIntStats } from 'node:fs';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '../util/atomic-write.js';
import { hexLength, type HashAlgorithm } from './algorithms.js';
import { CACHE_MAGIC, GONE, LOOKED_UP, LoadedCache } from './stat-cache-file.js';
import { nowNs, settled } from '../util/racy-clean.js';

export class StatCache {
  private loaded: LoadedCache | null = null;
  private readonly fresh = new Map<string, string>();
  private readonly walked: string[] = [];
  private dirty = false;
  private readonly hexLength: number;

  constructor(private readonly algorithm: HashAlgorithm, private readonly file: string | null) {
    this.hexLength = hexLength(algorithm);
    if (file) this.load(file);
  }

  lookup(rel: string, st: BigIntStats): string | null {
    const sizeText = String(st.size);
    const mtime = String(st.mtimeNs);
    const ino = String(st.ino);
    const ctime = String(st.ctimeNs);
    const loaded = this.loaded;
    const n = loaded ? loaded.find(rel) : -1;
    if (n >= 0) {
      const hexAt = loaded!.match(n, sizeText, mtime, ino, ctime, this.hexLength);
      if (
        hexAt >= 0 &&
        // First met in this run, so it came from the file: git's racy-clean rule against its save
        // time. (Entries recorded below already passed the stricter check.)
        (loaded!.state[n] === LOOKED_UP || st.ctimeNs < loaded!.settledBefore || settled(st.ctimeNs, loaded!.savedAt))
      ) {
        loaded!.state[n] = LOOKED_UP;
        return loaded!.slice(hexAt, hexAt + this.hexLength);
      }
      return null;
    }
    const key = `${sizeText}\t${mtime}\t${ino}\t${ctime}\t`;
    const entry = this.fresh.get(rel);
    return entry?.length === key.length + this.hexLength && entry.startsWith(key) ? entry.slice(key.length) : null;
  }

  record(rel: string, st: BigIntStats, hex: string, hashedAt: bigint): void {
    if (!settled(st.ctimeNs, hashedAt)) {
      this.forget(rel);
      return;
    }
    const n = this.loaded ? this.loaded.find(rel) : -1;
    if (n >= 0) this.loaded!.drop(n);
    this.fresh.set(rel, `${st.size}\t${st.mtimeNs}\t${st.ino}\t${st.ctimeNs}\t${hex}`);
    this.dirty = true;
  }

  remember(rel: string, st: BigIntStats, hex: string): void {
    const n = this.loaded ? this.loaded.find(rel) : -1;
    if (n >= 0) this.loaded!.drop(n);
    this.fresh.set(rel, `${st.size}\t${st.mtimeNs}\t${st.ino}\t${st.ctimeNs}\t${hex}`);
    this.dirty = true;
  }

  forget(rel: string): void {
    const n = this.loaded ? this.loaded.find(rel) : -1;
    if (n >= 0) {
      this.loaded!.drop(n);
      this.dirty = true;
    }
    if (this.fresh.delete(rel)) this.dirty = true;
  }

  walkedDir(prefix: string): void {
    this.walked.push(prefix);
  }

  /** Unlooked-up entries are kept (other stages use them); an unwritable state dir is skipped: the cache only saves time. */
  save(): void {
    if (!this.file) return;
    this.pruneWalked();
    if (!this.dirty) return;
    const loaded = this.loaded;
    const lines = [`${CACHE_MAGIC}\t${this.algorithm}\t${nowNs()}\t${(loaded?.size ?? 0) + this.fresh.size}\n`];
    const line = (rel: string, entry: string) => lines.push(`${/^"|[\t\n\r]/.test(rel) ? JSON.stringify(rel) : rel}\t${entry}\n`);
    if (loaded) for (let n = 0; n < loaded.lines; n++) if (loaded.state[n] !== GONE) line(loaded.path(n), loaded.entry(n));
    for (const [rel, entry] of this.fresh) line(rel, entry);
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      // No fsync: a file torn by a crash fails the count check and is ignored; it cannot be wrong.
      writeFileAtomicSync(this.file, lines.join(''), { fsync: false });
      this.dirty = false;
    } catch (err) {
      if (!isSystemError(err)) throw err;
    }
  }

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

  private load(file: string): void {
    let text: string;
    try {
      text = readFileSync(file).toString('utf8'); // measurably faster than readFileSync(file, 'utf8') on Node 20
    } catch {
      return;
    }
    this.loaded = LoadedCache.parse(text, this.algorithm);
  }
}

function isSystemError(err: unknown): boolean {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
}

