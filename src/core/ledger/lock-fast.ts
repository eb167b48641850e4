// pipeline.lock entries of the kind a run writes, serialized and read without the yaml library
// (BENCHMARKS.md, "Many stages": a 500-stage repro spent ~0.4 s in it, parsing the lock at start
// and writing it after each stage). Each function gives the library's own result or null, and on
// null the caller asks the library: anything not plainly of this shape (a hand edit, quoting, an
// env, a float or a list among the params, non-ASCII) goes the old way. test/lock-fast.test.ts
// holds both to the library over generated entries.
import type { LockPath } from './stage-key.js';

/** An entry as lock.ts's LockEntry (imported from there it would tie the two modules in a circle). */
type Entry = Record<string, unknown>;

// Scalars written plain: ASCII, starting with a letter, digit, `_`, `.` or `/`, none of the
// sequences that make YAML quote (`: `, ` #`, a final `:`), and not a word the core schema reads as
// another type. The library writes such a string plain, and reads it back as the same string.
const PLAIN = /^[A-Za-z0-9_./](?:[ -~]*[!-~])?$/;
const NOT_PLAIN = /: |:$| #|#|\\|\t/;
const OTHER_TYPE = /^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
// In the flow mapping `git: { ... }` the flow indicators end a plain scalar too.
const FLOW_UNSAFE = /[,[\]{}]/;
const INT = /^(?:0|-?[1-9][0-9]*)$/;

function plain(s: unknown, flow = false): s is string {
  return typeof s === 'string' && PLAIN.test(s) && !NOT_PLAIN.test(s) && !OTHER_TYPE.test(s) && !(flow && FLOW_UNSAFE.test(s))
    && !s.startsWith('..') && s !== '__proto__';
}

function count(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** A param value written plain: a string as above, an integer, a boolean, null. */
function scalar(v: unknown): string | null {
  if (v === null) return 'null';
  if (v === true || v === false) return String(v);
  if (typeof v === 'bigint') return String(v);
  if (typeof v === 'number') return Number.isSafeInteger(v) && !Object.is(v, -0) ? String(v) : null;
  return plain(v) ? v : null;
}

function paths(key: string, ps: unknown): string | null {
  if (!Array.isArray(ps)) return null;
  if (ps.length === 0) return `    ${key}: []\n`;
  let out = `    ${key}:\n`;
  for (const p of ps as LockPath[]) {
    const keys = Object.keys(p);
    const extra = keys.length === 4 && keys[3] === 'nfiles';
    if (!(keys.length === 3 || extra) || keys[0] !== 'path' || keys[1] !== 'hash' || keys[2] !== 'size') return null;
    if (!plain(p.path) || !plain(p.hash) || !count(p.size) || (extra && !count(p.nfiles))) return null;
    out += `      - path: ${p.path}\n        hash: ${p.hash}\n        size: ${p.size}\n`;
    if (extra) out += `        nfiles: ${p.nfiles}\n`;
  }
  return out;
}

/** `canonical` is canonicalEntry's output (keys in its order); the text serializeLock gives it after `  name:`, or null. */
export function fastBlock(name: string, canonical: Record<string, unknown>): string | null {
  if (!plain(name)) return null;
  let out = `  ${name}:\n`;
  for (const [k, v] of Object.entries(canonical)) {
    switch (k) {
      case 'cmd': case 'wdir': case 'out': case 'run':
        if (!plain(v)) return null;
        out += `    ${k}: ${v}\n`;
        break;
      case 'deps': case 'outs': {
        const text = paths(k, v);
        if (text === null) return null;
        out += text;
        break;
      }
      case 'params': {
        out += '    params:\n';
        for (const [file, values] of Object.entries(v as Record<string, Record<string, unknown>>)) {
          if (!plain(file)) return null;
          out += `      ${file}:\n`;
          for (const [key, value] of Object.entries(values)) {
            const text = scalar(value);
            if (!plain(key) || text === null) return null;
            out += `        ${key}: ${text}\n`;
          }
        }
        break;
      }
      case 'items': {
        const it = v as { count: unknown; hash: unknown };
        if (!count(it.count) || !plain(it.hash)) return null;
        out += `    items:\n      count: ${it.count}\n      hash: ${it.hash}\n`;
        break;
      }
      case 'git': {
        const g = v as { commit: unknown; branch: unknown; dirty: unknown };
        const word = (x: unknown) => (x === null ? 'null' : typeof x === 'boolean' ? String(x) : plain(x, true) ? x : null);
        const [c, b, d] = [word(g.commit), word(g.branch), word(g.dirty)];
        if (c === null || b === null || d === null || typeof g.dirty === 'string') return null;
        out += `    git: { commit: ${c}, branch: ${b}, dirty: ${d} }\n`;
        break;
      }
      default:
        return null; // env, or a key this writer does not know
    }
  }
  return out;
}

/** A plain scalar as the library reads it where a string is expected; null where it would read something else. */
function str(text: string): string | null {
  return plain(text) ? text : null;
}

function int(text: string): number | null {
  return INT.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : null;
}

function value(text: string): unknown {
  if (text === 'null') return null;
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (INT.test(text)) {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : BigInt(text); // as the exact reader does
  }
  return plain(text) ? text : undefined;
}

const FAIL = Symbol('not plain');

/**
 * The lock's text as the library reads it, when every entry is of the plain kind fastBlock writes;
 * null otherwise (the library then reads it all, and says where anything is wrong).
 */
export function fastParse(text: string): Record<string, Entry> | null {
  if (!text.startsWith('schema: 1\nstages:\n') || !text.endsWith('\n')) return null;
  const lines = text.slice('schema: 1\nstages:\n'.length, -1).split('\n');
  const stages: Record<string, Entry> = Object.create(null);
  const seen = new Set<string>();
  let i = 0;
  const field = (indent: string, key: string): string | typeof FAIL => {
    const line = lines[i];
    const head = `${indent}${key}: `;
    if (line === undefined || !line.startsWith(head)) return FAIL;
    i++;
    return line.slice(head.length);
  };
  const pathList = (key: string): LockPath[] | typeof FAIL => {
    const line = lines[i];
    if (line === `    ${key}: []`) {
      i++;
      return [];
    }
    if (line !== `    ${key}:`) return FAIL;
    i++;
    const out: LockPath[] = [];
    while (lines[i]?.startsWith('      - path: ')) {
      const p = str(lines[i++].slice('      - path: '.length));
      const h = field('        ', 'hash');
      const s = field('        ', 'size');
      if (p === null || h === FAIL || s === FAIL || str(h) === null || int(s) === null) return FAIL;
      const lp: LockPath = { path: p, hash: h, size: int(s)! };
      if (lines[i]?.startsWith('        nfiles: ')) {
        const n = int(lines[i++].slice('        nfiles: '.length));
        if (n === null) return FAIL;
        lp.nfiles = n;
      }
      out.push(lp);
    }
    return out.length ? out : FAIL;
  };
  while (i < lines.length) {
    const head = /^ {2}([^ ].*):$/.exec(lines[i]);
    const name = head && str(head[1]);
    if (!name || seen.has(name)) return null;
    seen.add(name);
    i++;
    const e: Record<string, unknown> = {};
    const cmd = field('    ', 'cmd');
    if (cmd === FAIL || str(cmd) === null) return null;
    e.cmd = cmd;
    for (const key of ['wdir', 'out']) {
      if (!lines[i]?.startsWith(`    ${key}: `)) continue;
      const v = str(field('    ', key) as string);
      if (v === null) return null;
      e[key] = v;
    }
    const deps = pathList('deps');
    if (deps === FAIL) return null;
    e.deps = deps;
    if (lines[i] === '    params:') {
      i++;
      const params: Record<string, Record<string, unknown>> = {};
      while (/^ {6}[^ ]/.test(lines[i] ?? '')) {
        const f = /^ {6}([^ ].*):$/.exec(lines[i++]);
        const file = f && str(f[1]);
        if (!file || Object.hasOwn(params, file)) return null;
        const values: Record<string, unknown> = {};
        while (lines[i]?.startsWith('        ') && lines[i][8] !== ' ') {
          const m = /^ {8}([^ :]+): (.*)$/.exec(lines[i++]);
          const key = m && str(m[1]);
          const v = m ? value(m[2]) : undefined;
          if (!key || v === undefined || Object.hasOwn(values, key)) return null;
          values[key] = v;
        }
        if (Object.keys(values).length === 0) return null;
        params[file] = values;
      }
      if (Object.keys(params).length === 0) return null;
      e.params = params;
    }
    const outs = pathList('outs');
    if (outs === FAIL) return null;
    e.outs = outs;
    if (lines[i] === '    items:') {
      i++;
      const c = field('      ', 'count');
      const h = field('      ', 'hash');
      if (c === FAIL || h === FAIL || int(c) === null || str(h) === null) return null;
      e.items = { count: int(c)!, hash: h };
    }
    const g = /^ {4}git: \{ commit: ([^ ,]+), branch: ([^ ,]+), dirty: (true|false|null) \}$/.exec(lines[i] ?? '');
    if (!g) return null;
    i++;
    const word = (t: string) => (t === 'null' ? null : plain(t, true) ? t : FAIL);
    const [commit, branch] = [word(g[1]), word(g[2])];
    if (commit === FAIL || branch === FAIL) return null;
    e.git = { commit, branch, dirty: g[3] === 'null' ? null : g[3] === 'true' };
    const run = field('    ', 'run');
    if (run === FAIL || str(run) === null) return null;
    e.run = run;
    e.params ??= {};
    stages[name] = e;
  }
  return stages;
}
