import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import type { PipelineConfig } from './config.js';
import { nowNs, settled } from './hash.js';

/*
 * The parsed, validated configuration, kept in `.dvcl/cache/config` so that a command does not
 * parse `.pipelinerc` and its params files with the YAML parser every time (tens of ms for a
 * 50-stage pipeline, most of a no-op repro). Valid while every file it was read from has the same
 * (size, mtime, inode, ctime) — with the racy-clean rule of the stat cache: saved only when every
 * file was last changed a full timestamp tick before the parse began — and for the same dvcl build
 * (this module's file), Node, project root and CPU count (the default of `jobs`). v8.serialize
 * keeps the Maps and Sets of the DAG as they are. Written only where `.dvcl/` already exists; any
 * unreadable, torn or stale cache is simply parsed again. Off when running from the TypeScript
 * sources (tests, bin/dev.js): there an edit of a module does not change this one's stamp.
 */
const FORMAT = 1;
const SOURCES = import.meta.url.endsWith('.ts');

interface Cached { format: number; key: string; files: [name: string, stamp: string][]; cfg: PipelineConfig }

/** The configuration of `root`: from the cache when valid, else from `parse` (and then cached). */
export function cachedConfig(root: string, files: string[], parse: () => PipelineConfig): PipelineConfig {
  const stateDir = path.join(root, '.dvcl');
  const file = path.join(stateDir, 'cache', 'config');
  if (SOURCES) return parse();
  const key = cacheKey(root);
  const hit = read(file, key, root);
  if (hit) return hit;
  const startedAt = nowNs();
  const cfg = parse();
  // Every file the result depends on: the fixed ones and the params files it read.
  const inputs = [...new Set([...files, ...Object.keys(cfg.params)])];
  const stamps = inputs.map((name): [string, string] => [name, stamp(path.join(root, name))]);
  if (stamps.every(([, s]) => s === 'missing' || settled(BigInt(s.split(':')[3]), startedAt)) && fs.existsSync(stateDir)) {
    write(file, { format: FORMAT, key, files: stamps, cfg });
  }
  return cfg;
}

function read(file: string, key: string, root: string): PipelineConfig | null {
  try {
    const c = v8.deserialize(fs.readFileSync(file)) as Cached;
    if (c.format !== FORMAT || c.key !== key) return null;
    for (const [name, s] of c.files) if (stamp(path.join(root, name)) !== s) return null;
    return c.cfg;
  } catch {
    return null; // missing, torn, or from another format
  }
}

function write(file: string, c: Cached): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, v8.serialize(c));
    fs.renameSync(tmp, file); // no fsync: a torn file fails to deserialize and is parsed again
  } catch {
    fs.rmSync(tmp, { force: true }); // read-only or full: the cache is only an optimisation
  }
}

function stamp(abs: string): string {
  const st = fs.statSync(abs, { bigint: true, throwIfNoEntry: false });
  return st ? `${st.size}:${st.mtimeNs}:${st.ino}:${st.ctimeNs}` : 'missing';
}

/** What else the parsed configuration depends on. */
function cacheKey(root: string): string {
  const self = fileURLToPath(import.meta.url);
  const st = fs.statSync(self, { throwIfNoEntry: false });
  return JSON.stringify([self, st?.size, st?.mtimeMs, process.version, root, os.availableParallelism?.() ?? os.cpus().length]);
}
