import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { nowNs, settled } from '../util/racy-clean.js';

// A value parsed from project files, kept in `.dvcl/cache/<name>` (YAML parsing dominated a no-op repro): valid while
// every file keeps its stat, saved only once they are racy-clean settled, for the same dvcl build, Node, root and CPU
// count. Off when running from the TypeScript sources: there an edit of another module does not change this one's stamp.
const FORMAT = 1;
const SOURCES = import.meta.url.endsWith('.ts');

interface Cached<T> { format: number; key: string; files: [name: string, stamp: string][]; value: T; bare: number[] }

export interface CachedParseOptions<T> {
  root: string;
  name: string;
  /** Relative to root; a missing one counts as such. */
  files: string[];
  parse: () => T;
  /** Files the value turned out to depend on as well (e.g. the params files a config names). */
  moreFiles?: (value: T) => string[];
}

export function cachedParse<T>(opts: CachedParseOptions<T>): T {
  if (SOURCES) return opts.parse();
  const stateDir = path.join(opts.root, '.dvcl');
  const file = path.join(stateDir, 'cache', opts.name);
  const key = cacheKey(opts.root);
  const hit = read<T>(file, key, opts.root);
  if (hit) {
    walk(hit.value, hit.bare);
    return hit.value;
  }
  const startedAt = nowNs();
  const value = opts.parse();
  const inputs = [...new Set([...opts.files, ...(opts.moreFiles?.(value) ?? [])])];
  const stamps = inputs.map((name): [string, string] => [name, stamp(path.join(opts.root, name))]);
  const bare = walk(value);
  if (bare && stamps.every(([, s]) => s === 'missing' || settled(BigInt(s.split(':')[3]), startedAt)) && fs.existsSync(stateDir)) {
    write(file, { format: FORMAT, key, files: stamps, value, bare });
  }
  return value;
}

/** Without `restore`: the visit numbers of prototype-less objects, or null when v8.deserialize would not give it back. */
function walk(value: unknown, restore?: number[]): number[] | null {
  const bare: number[] = [];
  const strip = new Set(restore);
  const seen = new Set<object>();
  let n = 0;
  let plain = true;
  const visit = (v: unknown): void => {
    if (typeof v === 'function' || typeof v === 'symbol') plain = false;
    if (!plain || v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    const i = n++;
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto === Array.prototype) for (const x of v as unknown[]) visit(x);
    else if (proto === Map.prototype) for (const [k, x] of v as Map<unknown, unknown>) (visit(k), visit(x));
    else if (proto === Set.prototype) for (const x of v as Set<unknown>) visit(x);
    else if (proto === Object.prototype || proto === null) {
      if (proto === null) bare.push(i);
      else if (strip.has(i)) Object.setPrototypeOf(v, null);
      for (const k of Object.keys(v)) visit((v as Record<string, unknown>)[k]);
    } else plain = false;
  };
  visit(value);
  return plain ? bare : null;
}

function read<T>(file: string, key: string, root: string): Cached<T> | null {
  try {
    const c = v8.deserialize(fs.readFileSync(file)) as Cached<T>;
    if (c.format !== FORMAT || c.key !== key) return null;
    for (const [name, s] of c.files) if (stamp(path.join(root, name)) !== s) return null;
    return c;
  } catch {
    return null; // missing, torn, or from another format
  }
}

function write<T>(file: string, c: Cached<T>): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, v8.serialize(c));
    fs.renameSync(tmp, file); // no fsync: a torn file fails to deserialize and is parsed again
  } catch {
    try {
      fs.rmSync(tmp, { force: true }); // read-only or full: the cache is only an optimisation
    } catch { /* .dvcl is not a folder: openProject says so */ }
  }
}

function stamp(abs: string): string {
  const st = fs.statSync(abs, { bigint: true, throwIfNoEntry: false });
  return st ? `${st.size}:${st.mtimeNs}:${st.ino}:${st.ctimeNs}` : 'missing';
}

function cacheKey(root: string): string {
  const self = fileURLToPath(import.meta.url);
  const st = fs.statSync(self, { throwIfNoEntry: false });
  return JSON.stringify([self, st?.size, st?.mtimeMs, process.version, root, os.availableParallelism?.() ?? os.cpus().length]);
}
