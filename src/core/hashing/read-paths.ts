// Reading the project's paths for hashing: stat, listings (names not UTF-8 included), joins.
import { type BigIntStats, type Dirent, lstatSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import path from 'node:path';
import { DvclError, oneLine } from '../errors.js';
import { isUndecodable, REPLACEMENT, showBytes } from './raw-names.js';

/** Allocated once: statSync is called per file, 100,000s of times. */
const STAT_OPTIONS = { bigint: true, throwIfNoEntry: false } as const;

export function statPath(rel: string, abs: string | Buffer, follow = true): BigIntStats | undefined {
  try {
    return follow ? statSync(abs, STAT_OPTIONS) : lstatSync(abs, STAT_OPTIONS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENOENT') return undefined;
    throw ioError(rel, err);
  }
}

export function readDir(rel: string, abs: string | Buffer, encoding: 'buffer'): Buffer[] {
  try {
    return readdirSync(abs, { encoding });
  } catch (err) {
    throw ioError(rel, err);
  }
}

export function readDirRaw(rel: string, abs: string, undecodable: (shown: string, raw: Buffer) => void): Dirent[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(abs, { withFileTypes: true });
  } catch (err) {
    throw ioError(rel, err);
  }
  if (!entries.some((d) => d.name.includes(REPLACEMENT))) return entries;
  // Names decoded alike (`\xff` and a real U+FFFD both read as U+FFFD) appear once per name on disk.
  const valid = new Set<string>();
  for (const raw of readDir(rel, abs, 'buffer')) {
    if (isUndecodable(raw)) undecodable(showBytes(raw), raw);
    else if (raw.includes(0xef)) valid.add(raw.toString('utf8'));
  }
  return entries.filter((d) => !d.name.includes(REPLACEMENT) || valid.delete(d.name));
}

/** A directory's absolute path joined with an entry name (path.join, less its normalising). */
export function joinAbs(dir: string, name: string): string {
  return dir.endsWith(path.sep) ? dir + name : dir + path.sep + name;
}

export function joinRel(relDir: string, rel: string): string {
  if (!rel) return relDir;
  return relDir === '.' ? rel : `${relDir}/${rel}`;
}

export function linkLine(rel: string, abs: string): string {
  return `${rel}\0link:${JSON.stringify(readlinkSync(abs))}\n`;
}

export function ioError(rel: string, err: unknown): DvclError {
  const e = err as NodeJS.ErrnoException;
  return new DvclError('io', oneLine(`cannot read ${rel}: ${e.message}`));
}
