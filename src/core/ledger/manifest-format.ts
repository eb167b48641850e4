import { DvclError, oneLine } from '../errors.js';

export type ItemStatus = 'success' | 'failed';

export interface ItemRecord {
  status: ItemStatus;
  hash: string;
  /** Hash of the stage-level inputs (cmd template, shared deps, params) at the last attempt. */
  stage_hash?: string;
  /** Attempts for this input version; on success, the attempt number that succeeded. */
  attempts: number;
  output?: string;
  output_hash?: string;
  /** Only when the output is a directory (as `nfiles` in `pipeline.lock`): how it is pushed, pulled and checked. */
  output_nfiles?: number;
  last_processed?: string;
  last_attempt?: string;
  reason?: string;
  run: string;
}

export interface StageRecord {
  status: 'success' | 'failed';
  run?: string;
  attempts?: number;
  reason?: string;
  last_attempt?: string;
  last_processed?: string;
  items?: Record<string, ItemRecord>;
}

export interface RunRecord {
  argv: string[];
  dvcl: string;
  started_at: string;
  finished_at?: string | null;
  git_branch: string | null;
  git_commit: string | null;
  git_dirty: boolean | null;
  host: string;
  node: string;
  platform: string;
  user: string | null;
}

export interface ManifestData {
  version: 1;
  stages: Record<string, StageRecord>;
  runs: Record<string, RunRecord>;
}

export const MANIFEST_VERSION = 1;

/** No prototype: stage names and item paths are user data (`constructor`, `__proto__` are plain keys). */
export function dict<T>(from?: Record<string, T>): Record<string, T> {
  const d = Object.create(null) as Record<string, T>;
  return from ? Object.assign(d, from) : d;
}

export function emptyManifest(): ManifestData {
  return { version: MANIFEST_VERSION, stages: dict(), runs: dict() };
}

// Canonical: 2-space indent, keys sorted (UTF-16 order), trailing newline: JSON.stringify(v, null, 2)
// of a copy with sorted keys, but written in pieces of about a megabyte, with no copy and no
// whole text in memory (100,000 items are 42 MB of text). Every object is written key by key in
// sorted order (integer-like keys too, which V8 would enumerate first); a list of primitives is
// one JSON.stringify.
export function writeManifest(data: ManifestData, emit: (piece: string) => void): void {
  let piece = '';
  const flush = (): void => {
    if (piece.length >= PIECE) {
      emit(piece);
      piece = '';
    }
  };
  const write = (v: unknown, indent: string): void => {
    if (v === null || typeof v !== 'object') {
      piece += JSON.stringify(v) ?? 'null';
      return;
    }
    const inner = `${indent}  `;
    if (Array.isArray(v)) {
      if (v.every(primitive)) {
        piece += list(v, indent);
        return;
      }
      // holding objects, whose keys JSON.stringify would not sort
      piece += '[';
      v.forEach((x, i) => {
        piece += `${i ? ',' : ''}\n${inner}`;
        write(x, inner);
      });
      piece += `\n${indent}]`;
      return;
    }
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).sort().filter((k) => o[k] !== undefined);
    if (keys.length === 0) {
      piece += '{}';
      return;
    }
    piece += '{';
    for (let i = 0; i < keys.length; i++) {
      piece += `${i ? ',' : ''}\n${inner}${JSON.stringify(keys[i])}: `;
      write(o[keys[i]], inner);
      flush();
    }
    piece += `\n${indent}}`;
  };
  write(data, '');
  emit(`${piece}\n`);
}

const PIECE = 1 << 20;
const NEWLINES = /\n/g;

/** A list of primitives as JSON.stringify(v, null, 2) writes it, at `indent`. */
function list(v: unknown[], indent: string): string {
  const text = JSON.stringify(v, null, 2);
  return indent ? text.replace(NEWLINES, `\n${indent}`) : text;
}

const primitive = (x: unknown): boolean => x === null || typeof x !== 'object';

export function serializeManifest(data: ManifestData): string {
  const pieces: string[] = [];
  writeManifest(data, (p) => pieces.push(p));
  return pieces.join('');
}

export type ManifestCheck =
  | { ok: true; data: ManifestData }
  | { ok: false; kind: 'empty' | 'syntax' | 'shape' | 'version'; message: string };

/** Does not throw, so the loader can tell "corrupt" from "newer". */
export function checkManifest(text: string): ManifestCheck {
  // An editor may add a byte order mark on saving; the next save drops it.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') return { ok: false, kind: 'empty', message: 'the file is empty' };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    // JSON.parse quotes the text around the error, newlines and all: warnings show it too.
    const message = /^<{7} /m.test(text)
      ? 'it contains git merge conflict markers'
      : `invalid JSON: ${oneLine((e as Error).message)}`;
    return { ok: false, kind: 'syntax', message };
  }
  try {
    const top = obj(raw, '(top level)');
    if (top.version !== MANIFEST_VERSION && typeof top.version === 'number') {
      const newer = top.version > MANIFEST_VERSION ? ', it was written by a newer dvcl' : '';
      return {
        ok: false, kind: 'version',
        message: `manifest version ${top.version} is not supported (this dvcl reads version ${MANIFEST_VERSION})${newer}`,
      };
    }
    if (top.version !== MANIFEST_VERSION) fail('version', `expected ${MANIFEST_VERSION}, found ${JSON.stringify(top.version) ?? 'nothing'}`);
    const stages = dict<StageRecord>();
    for (const [name, s] of Object.entries(obj(top.stages ?? {}, 'stages'))) {
      stages[name] = stageRecord(s, sub('stages', name), true);
    }
    const runs = dict<RunRecord>();
    for (const [id, r] of Object.entries(obj(top.runs ?? {}, 'runs'))) runs[id] = runRecord(r, sub('runs', id));
    return { ok: true, data: { ...top, version: MANIFEST_VERSION, stages, runs } };
  } catch (e) {
    if (e instanceof ShapeError) return { ok: false, kind: 'shape', message: e.message };
    throw e;
  }
}

export function parseManifest(text: string, file: string): ManifestData {
  const r = checkManifest(text);
  if (r.ok) return r.data;
  throw new DvclError('corrupt', `${file}: ${r.message}`);
}

export class ShapeError extends Error {}

function fail(where: string, what: string): never {
  throw new ShapeError(`${where}: ${what}`);
}

function sub(where: string, key: string): string {
  return /^[A-Za-z_][\w-]*$/.test(key) ? `${where}.${key}` : `${where}[${JSON.stringify(key)}]`;
}

function obj(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(where, 'expected an object');
  return v as Record<string, unknown>;
}

type Kind = 'string' | 'string?' | 'string|null' | 'string|null?' | 'count' | 'count?' | 'status' | 'boolean|null' | 'string[]';

function matches(x: unknown, kind: Kind): boolean {
  switch (kind) {
    case 'string': case 'string?': return typeof x === 'string';
    case 'string|null': case 'string|null?': return typeof x === 'string' || x === null;
    case 'count': case 'count?': return Number.isInteger(x) && (x as number) >= 0;
    case 'status': return x === 'success' || x === 'failed';
    case 'boolean|null': return typeof x === 'boolean' || x === null;
    case 'string[]': return Array.isArray(x) && x.every((a) => typeof a === 'string');
  }
}

type Field = readonly [key: string, kind: Kind, optional: boolean];

function spec(kinds: Record<string, Kind>): Field[] {
  return Object.entries(kinds).map(([k, kind]) => [k, kind, kind.endsWith('?')] as const);
}

/** Builds nothing: it runs once per item of a large manifest. */
function valid(o: Record<string, unknown>, fieldSpec: readonly Field[]): boolean {
  for (let i = 0; i < fieldSpec.length; i++) {
    const [k, kind, optional] = fieldSpec[i];
    const x = o[k];
    if (x === undefined && optional) continue;
    if (!matches(x, kind)) return false;
  }
  return true;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Returns `v` itself, fresh from JSON.parse (a copy slows large loads); the error message is built only on failure. */
function fields<T>(v: unknown, where: string, fieldSpec: readonly Field[]): T {
  const o = obj(v, where);
  if (valid(o, fieldSpec)) return o as T;
  for (const [k, kind, optional] of fieldSpec) {
    const x = o[k];
    if (x === undefined && optional) continue;
    if (!matches(x, kind)) fail(sub(where, k), x === undefined ? 'missing' : `expected ${kind.replace('?', '')}, found ${JSON.stringify(x)}`);
  }
  return o as T;
}

const ITEM = spec({
  status: 'status', hash: 'string', stage_hash: 'string?', attempts: 'count', output: 'string?',
  output_hash: 'string?', output_nfiles: 'count?', last_processed: 'string?', last_attempt: 'string?', reason: 'string?', run: 'string',
});
const STAGE = spec({
  status: 'status', run: 'string?', attempts: 'count?', reason: 'string?', last_attempt: 'string?', last_processed: 'string?',
});
const RUN = spec({
  argv: 'string[]', dvcl: 'string', started_at: 'string', finished_at: 'string|null?', git_branch: 'string|null',
  git_commit: 'string|null', git_dirty: 'boolean|null', host: 'string', node: 'string', platform: 'string', user: 'string|null',
});

export function itemRecord(v: unknown, where: string): ItemRecord {
  return fields<ItemRecord>(v, where, ITEM);
}

export function stageRecord(v: unknown, where: string, withItems: boolean): StageRecord {
  const s = fields<StageRecord>(v, where, STAGE);
  if (!withItems || s.items === undefined) {
    delete s.items;
    return s;
  }
  const items = obj(s.items, sub(where, 'items'));
  Object.setPrototypeOf(items, null); // before reading: an item called `__proto__` or `constructor` is a plain key
  const paths = Object.keys(items);
  for (let i = 0; i < paths.length; i++) {
    const rec = items[paths[i]];
    if (!isObject(rec) || !validItem(rec)) itemRecord(rec, sub(sub(where, 'items'), paths[i])); // throws the message
  }
  return s;
}

/** valid(o, ITEM) written out (keep the two in step): measurably faster on large manifests; ITEM names what it refuses. */
function validItem(o: Record<string, unknown>): boolean {
  return (
    (o.status === 'success' || o.status === 'failed') &&
    typeof o.hash === 'string' &&
    optionalString(o.stage_hash) &&
    Number.isInteger(o.attempts) && (o.attempts as number) >= 0 &&
    optionalString(o.output) &&
    optionalString(o.output_hash) &&
    (o.output_nfiles === undefined || (Number.isInteger(o.output_nfiles) && (o.output_nfiles as number) >= 0)) &&
    optionalString(o.last_processed) &&
    optionalString(o.last_attempt) &&
    optionalString(o.reason) &&
    typeof o.run === 'string'
  );
}

function optionalString(x: unknown): boolean {
  return x === undefined || typeof x === 'string';
}

export function runRecord(v: unknown, where: string): RunRecord {
  return fields<RunRecord>(v, where, RUN);
}
