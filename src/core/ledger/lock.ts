import fs from 'node:fs';
import path from 'node:path';
import { Document, isMap, isSeq, type YAMLMap } from 'yaml';
import { writeFileAtomicSync } from '../util/atomic-write.js';
import { DvclError } from '../errors.js';
import { canonicalText, exactIntegers } from '../util/exact.js';
import { cachedParse } from '../config/parse-cache.js';
import { YamlSource } from '../config/yaml-source.js';
import type { LockPath, StageKey } from './stage-key.js';
import { fastBlock, fastParse } from './lock-fast.js';

export const LOCK_FILE = 'pipeline.lock';

export type { LockPath } from './stage-key.js';
export interface LockGit { commit: string | null; branch: string | null; dirty: boolean | null }
export interface LockEntry extends StageKey {
  outs: LockPath[];
  /** Per-item stages: the item output template, and one hash over all (input, input hash, output hash). */
  out?: string;
  items?: { count: number; hash: string };
  git: LockGit;
  run: string;
}
export interface LockData { schema: 1; stages: Record<string, LockEntry> }

export function emptyLock(): LockData {
  return { schema: 1, stages: Object.create(null) };
}

/** Missing → empty. Cached in .dvcl/ while the file is unchanged: YAML parsing dominated a no-op repro. */
export function readLock(root: string): LockData {
  return cachedParse({ root, name: 'lock', files: [LOCK_FILE], parse: () => readLockFile(root) });
}

function readLockFile(root: string): LockData {
  const file = path.join(root, LOCK_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyLock();
    throw new DvclError('corrupt', `${LOCK_FILE}: cannot read: ${(e as Error).message}`);
  }
  return parseLock(text, LOCK_FILE);
}

/** Mid-merge a state file holds conflict markers, and git refuses `checkout --` of an unmerged path. */
export function conflictHint(file: string): string[] {
  return [`it holds merge conflict markers: keep one side with \`git checkout --ours -- ${file}\` (or --theirs), then \`dvcl repro\``,
    '`dvcl init` registers the merge driver, which merges it entry by entry without conflicts'];
}

function restoreHint(text: string): string[] {
  if (/^<{7} /m.test(text) && /^>{7} /m.test(text)) return conflictHint(LOCK_FILE);
  return [`restore it from git (\`git checkout -- ${LOCK_FILE}\`), or delete it: every stage then counts as never run`];
}

export function parseLock(text: string, file = LOCK_FILE): LockData {
  const fast = fastParse(text); // the entries a run writes, read without the library (lock-fast.ts)
  return fast ? { schema: 1, stages: Object.assign(Object.create(null), fast) as Record<string, LockEntry> } : parseLockWithLibrary(text, file);
}

/** parseLock through the yaml library: any text, and where it is wrong. */
export function parseLockWithLibrary(text: string, file = LOCK_FILE): LockData {
  if (text.trim() === '') return emptyLock();
  const hint = () => restoreHint(text);
    // The same bounded parse as .pipelinerc's (alias bombs, deep nesting…), reported as damage to
    // this file rather than as a configuration error.
  const src = YamlSource.check(file, text, { exact: true });
  const value = src instanceof YamlSource ? src.value() : { ok: false as const, problem: src };
  if (!value.ok) {
    const { pos, message } = value.problem;
    throw new DvclError('corrupt', `${file}: not valid YAML${pos ? ` at line ${pos.line}, column ${pos.col}` : ''}: ${message}`, { suggestions: hint() });
  }
  const data = value.value as Partial<LockData> | null;
  const bad = (why: string) => new DvclError('corrupt', `${file}: ${why}`, { suggestions: hint() });
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw bad('not a dvcl lock file');
  if (data.schema !== 1) throw bad(`unsupported schema ${JSON.stringify(data.schema)} (this dvcl reads schema 1; a newer dvcl wrote it?)`);
  const stages = data.stages ?? {};
  if (typeof stages !== 'object' || Array.isArray(stages)) throw bad('`stages` must be a mapping');
  for (const [name, e] of Object.entries(stages)) {
    const ok = e && typeof e === 'object' && (typeof e.cmd === 'string' || Array.isArray(e.cmd))
      && Array.isArray(e.deps ?? []) && Array.isArray(e.outs ?? [])
      && (e.wdir === undefined || typeof e.wdir === 'string')
      && (e.env === undefined || (typeof e.env === 'object' && e.env !== null && !Array.isArray(e.env)))
      && [...(e.deps ?? []), ...(e.outs ?? [])].every((p) => p && typeof p.path === 'string' && typeof p.hash === 'string');
    if (!ok) throw bad(`stages.${name}: malformed entry`);
    e.deps ??= [];
    e.outs ??= [];
    e.params ??= {};
    e.git ??= { commit: null, branch: null, dirty: null };
  }
    // A stage called `constructor` must not find Object.prototype's.
  return { schema: 1, stages: Object.assign(Object.create(null), stages) };
}

// Canonical: equal data gives equal bytes, so a PR diff shows exactly the stages that changed.
export function serializeLock(data: LockData): string {
  const names = Object.keys(data.stages).sort(cmp);
  const canonical = names.map((n) => canonicalEntry(data.stages[n]));
  const blocks = names.map((n, i) => fastBlock(n, canonical[i]));
  if (names.length && blocks.every((b) => b !== null)) return LOCK_HEADER + blocks.join('');
  return libraryText(names, canonical);
}

/** serializeLock through the yaml library, which writes any entry (lock-fast.ts writes the plain ones the same). */
export function serializeLockWithLibrary(data: LockData): string {
  const names = Object.keys(data.stages).sort(cmp);
  return libraryText(names, names.map((n) => canonicalEntry(data.stages[n])));
}

/** The lock's text of these stages (sorted names, their canonicalEntry) written by the yaml library. */
function libraryText(names: readonly string[], canonical: readonly Record<string, unknown>[]): string {
  const stages: Record<string, unknown> = Object.create(null);
  names.forEach((name, i) => { stages[name] = canonical[i]; });
  // No anchors: an entry's text must not depend on the others' (see stageBlock).
  const doc = new Document({ schema: 1, stages }, { aliasDuplicateObjects: false });
  const st = doc.get('stages') as YAMLMap | null;
  if (isMap(st)) {
    for (const pair of st.items) {
      const git = (pair.value as YAMLMap).get('git', true);
      if (isMap(git)) git.flow = true;
      const cmd = (pair.value as YAMLMap).get('cmd', true);
      if (isSeq(cmd)) cmd.flow = false;
    }
  }
  return doc.toString({ lineWidth: 0, minContentWidth: 0, indentSeq: true });
}

export function canonicalEntry(e: LockEntry): Record<string, unknown> {
  const paths = (ps: LockPath[]) => [...ps].sort((a, b) => cmp(a.path, b.path)).map((p) => ({
    path: p.path, hash: p.hash, size: p.size, ...(p.nfiles === undefined ? {} : { nfiles: p.nfiles }),
  }));
  const params: Record<string, Record<string, unknown>> = Object.create(null);
  for (const f of Object.keys(e.params ?? {}).sort(cmp)) {
    const keys = Object.keys(e.params[f]).sort(cmp);
    if (keys.length) params[f] = Object.fromEntries(keys.map((k) => [k, exactIntegers(sortDeep(e.params[f][k]))]));
  }
  const out: Record<string, unknown> = { cmd: e.cmd };
  if (e.wdir !== undefined) out.wdir = e.wdir;
  if (e.env !== undefined) out.env = sortDeep(e.env);
  if (e.out !== undefined) out.out = e.out;
  out.deps = paths(e.deps);
  if (Object.keys(params).length) out.params = params;
  out.outs = paths(e.outs);
  if (e.items) out.items = { count: e.items.count, hash: e.items.hash };
  out.git = { commit: e.git.commit, branch: e.git.branch, dirty: e.git.dirty };
  out.run = e.run;
  return out;
}

// Equal but for `run` and `git`: a re-run that keeps the entry leaves every teammate's tree clean.
export function sameEntryContent(a: LockEntry, b: LockEntry): boolean {
  const content = (e: LockEntry) => {
    const { git: _git, run: _run, ...rest } = canonicalEntry(e);
    // Not JSON.stringify: it makes NaN and ±Infinity null (a param going null → .nan is a change)
    // and throws on the BigInt of a big integer.
    return canonicalText(rest);
  };
  return content(a) === content(b);
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sortDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortDeep);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort(cmp).map((k) => [k, sortDeep((v as Record<string, unknown>)[k])]));
  }
  return v;
}

export const LOCK_HEADER = 'schema: 1\nstages:\n';

/** One stage's lines in serializeLock's text: the lock is these, sorted by name, after LOCK_HEADER. */
export function stageBlock(name: string, e: LockEntry): string {
  const canonical = canonicalEntry(e);
  return fastBlock(name, canonical) ?? libraryText([name], [canonical]).slice(LOCK_HEADER.length);
}

/** A crash leaves the old lock or the new one, never half. */
export function writeLock(root: string, data: LockData): void {
  writeLockText(root, serializeLock(data));
}

/** `onDisk` when the caller knows the file's text: then it is not read again. */
export function writeLockText(root: string, text: string, onDisk?: string | null): void {
  const file = path.join(root, LOCK_FILE);
  try {
    if (onDisk !== undefined ? onDisk === text : fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) return;
    writeFileAtomicSync(file, text);
  } catch (e) {
    throw new DvclError('io', `cannot write ${LOCK_FILE}: ${(e as Error).message}`);
  }
}
