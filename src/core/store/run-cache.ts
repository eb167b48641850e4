// The run cache: for a stage key, the outs a successful run with those inputs produced. Kept beside
// the objects: `.dvcl/runs/<algo>/<2 hex>/<rest>` here, `dvcl/v1/runs/...` on the remote.
import fs from 'node:fs';
import path from 'node:path';
import type { Hasher } from '../hashing/hash.js';
import type { LockPath, StageKey } from '../ledger/stage-key.js';
import { cmp } from '../ledger/lock.js';
import { canonicalText } from '../util/exact.js';
import { temporaryBeside } from './files.js';
import { objectKey, OBJECTS_PREFIX } from './object-store.js';

export const RUNS_DIR = 'runs';
export const RUNS_PREFIX = 'dvcl/v1/runs/';

/** What a run cache entry holds: the outs its lock entry recorded. */
export interface RunEntry { outs: LockPath[] }

/** The hash of a stage key's canonical text: what names its entry. Deps count by path and content hash only. */
export function runKey(hasher: Hasher, key: Pick<StageKey, 'cmd' | 'wdir' | 'env' | 'deps' | 'params'>): string {
  const deps = key.deps.map((d) => [d.path, d.hash]);
  return hasher.hashString(canonicalText({ cmd: key.cmd, wdir: key.wdir ?? null, env: key.env ?? null, deps, params: key.params })!);
}

/** `<algo>/<2 hex>/<rest>` of a key hash, as for objects. */
export function runRel(keyHash: string): string {
  return objectKey(keyHash).slice(OBJECTS_PREFIX.length);
}

export function runRemoteKey(keyHash: string): string {
  return RUNS_PREFIX + runRel(keyHash);
}

export function runEntryText(outs: readonly LockPath[]): string {
  return `${canonicalText({ version: 1, outs: outs.map((o) => ({ path: o.path, hash: o.hash, size: o.size, ...(o.nfiles !== undefined ? { nfiles: o.nfiles } : {}) })) })}\n`;
}

/** The entry in `text` when it is a valid one for a stage with these outs, else null. */
export function parseRunEntry(text: string, declared: readonly string[]): RunEntry | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || (v as { version?: unknown }).version !== 1) return null;
  const outs = (v as { outs?: unknown }).outs;
  if (!Array.isArray(outs)) return null;
  const want = [...declared].sort(cmp);
  if (outs.length !== want.length) return null;
  const got: LockPath[] = [];
  for (const [i, o] of outs.entries()) {
    if (typeof o !== 'object' || o === null) return null;
    const { path: p, hash, size, nfiles } = o as Record<string, unknown>;
    if (p !== want[i] || typeof hash !== 'string' || typeof size !== 'number' || (nfiles !== undefined && typeof nfiles !== 'number')) return null;
    try {
      objectKey(hash);
    } catch {
      return null;
    }
    got.push({ path: p, hash, size, ...(nfiles !== undefined ? { nfiles: nfiles as number } : {}) });
  }
  return { outs: got };
}

/** The out hashes of a stage's entry, whatever outs its stage now declares (gc), or null when it is not one. */
export function runEntryHashes(text: string): string[] | null {
  try {
    const v = JSON.parse(text) as { version?: unknown; outs?: { hash?: unknown }[] };
    if (v.version !== 1 || !Array.isArray(v.outs) || !v.outs.every((o) => typeof o?.hash === 'string')) return null;
    return v.outs.map((o) => o.hash as string);
  } catch {
    return null;
  }
}

/** A per-item stage's records sit under `items/`, named by the items' `stage_hash`. */
export const ITEMS_SUB = 'items/';

export function itemsRemoteKey(stageHash: string): string {
  return RUNS_PREFIX + ITEMS_SUB + runRel(stageHash);
}

/** The key of an item in an items entry: its path and its input's hash (a command sees the path too). */
export function itemRunKey(item: string, inputHash: string): string {
  return `${item}\n${inputHash}`;
}

/** For one stage key of a per-item stage: each (item, input hash) that succeeded, and its output's hash. */
export function itemsEntryText(outputs: ReadonlyMap<string, string>): string {
  const items: Record<string, Record<string, string>> = {};
  for (const [k, output] of outputs) {
    const i = k.lastIndexOf('\n');
    (items[k.slice(0, i)] ??= {})[k.slice(i + 1)] = output;
  }
  return `${canonicalText({ version: 1, items })}\n`;
}

/** The pairs (keyed by {@link itemRunKey}) of an entry whose every hash names an object; null when it is not one. */
export function parseItemsEntry(text: string): Map<string, string> | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  const items = typeof v === 'object' && v !== null && (v as { version?: unknown }).version === 1 ? (v as { items?: unknown }).items : null;
  if (typeof items !== 'object' || items === null || Array.isArray(items)) return null;
  const out = new Map<string, string>();
  for (const [item, byInput] of Object.entries(items)) {
    if (typeof byInput !== 'object' || byInput === null || Array.isArray(byInput)) return null;
    for (const [input, output] of Object.entries(byInput as Record<string, unknown>)) {
      if (typeof output !== 'string') return null;
      try {
        objectKey(input);
        objectKey(output);
      } catch {
        return null;
      }
      out.set(itemRunKey(item, input), output);
    }
  }
  return out;
}

/** `text` as `file`, through a temporary renamed into place (not fsynced: an entry is a convenience, checked when read). */
export function replaceFile(file: string, text: string): void {
  const tmp = temporaryBeside(file);
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** The local run cache, `.dvcl/runs/`. */
export class LocalRuns {
  constructor(readonly dir: string) {}

  static of(stateDir: string): LocalRuns {
    return new LocalRuns(path.join(stateDir, RUNS_DIR));
  }

  /** Per-item stages' records, `.dvcl/runs/items/` (see {@link ITEMS_SUB}). */
  static items(stateDir: string): LocalRuns {
    return new LocalRuns(path.join(stateDir, RUNS_DIR, ITEMS_SUB));
  }

  file(keyHash: string): string {
    return path.join(this.dir, runRel(keyHash));
  }

  read(keyHash: string): string | null {
    try {
      return fs.readFileSync(this.file(keyHash), 'utf8');
    } catch {
      return null;
    }
  }

  /** Written whole and renamed into place; an entry already there is replaced (a newer run of the same key). */
  write(keyHash: string, text: string): void {
    const dest = this.file(keyHash);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    replaceFile(dest, text);
  }

  remove(keyHash: string): void {
    fs.rmSync(this.file(keyHash), { force: true });
  }
}
