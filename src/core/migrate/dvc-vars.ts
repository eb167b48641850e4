// DVC's `${…}` interpolation, resolved once at import time: dvcl substitutes no parameters into a
// pipeline, so every value is written out as it is now. What came from a params file (rather than
// from dvc.yaml itself) is reported, since a later change of that file no longer reaches the pipeline.
import { isObject } from '../config/fields.js';

/** A variable's origin: a file (params.yaml, a `vars:` file) or dvc.yaml itself (inline `vars`, `item`/`key`). */
export type VarSource = { kind: 'file'; file: string } | { kind: 'inline' };

/** The variables in scope: top-level names, each with where it came from. */
export class VarContext {
  private readonly vars = new Map<string, { value: unknown; source: VarSource }>();

  clone(): VarContext {
    const c = new VarContext();
    for (const [k, v] of this.vars) c.vars.set(k, v);
    return c;
  }

  /** Later sources win; DVC refuses a redefinition, which dvc.yaml's author has fixed already. */
  merge(data: Record<string, unknown>, source: VarSource): void {
    for (const [k, value] of Object.entries(data)) this.vars.set(k, { value, source });
  }

  select(expr: string): { found: true; value: unknown; source: VarSource } | { found: false } {
    const parts = expr.trim().replace(/\[/g, '.').replace(/\]/g, '').split('.');
    const top = this.vars.get(parts[0]);
    if (!top) return { found: false };
    let cur: unknown = top.value;
    for (const p of parts.slice(1)) {
      if (Array.isArray(cur) && /^\d+$/.test(p) && Number(p) < cur.length) cur = cur[Number(p)];
      else if (isObject(cur) && Object.hasOwn(cur, p)) cur = cur[p];
      else return { found: false };
    }
    return { found: true, value: cur, source: top.source };
  }
}

/** What resolving one value used: the params-file keys it read, and the expressions nothing defines. */
export interface Resolution { value: unknown; fromFiles: { file: string; key: string; value: unknown }[]; missing: string[] }

const KEYCRE = /(?<!\\)\$\{(.*?)\}/g;

/** Resolves every string in `v` (keys too); `inCmd`: a mapping unpacks into `--key value` flags, as DVC does. */
export function resolve(ctx: VarContext, v: unknown, opts: { inCmd?: boolean } = {}): Resolution {
  const r: Resolution = { value: undefined, fromFiles: [], missing: [] };
  r.value = walk(ctx, v, r, opts.inCmd ?? false);
  return r;
}

function walk(ctx: VarContext, v: unknown, r: Resolution, inCmd: boolean): unknown {
  if (typeof v === 'string') return resolveString(ctx, v, r, inCmd);
  if (Array.isArray(v)) return v.map((x) => walk(ctx, x, r, inCmd));
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [String(resolveString(ctx, k, r, false)), walk(ctx, x, r, inCmd)]));
  return v;
}

function resolveString(ctx: VarContext, s: string, r: Resolution, inCmd: boolean): unknown {
  const matches = [...s.matchAll(KEYCRE)];
  const lookup = (expr: string): unknown => {
    const hit = ctx.select(expr);
    if (!hit.found) {
      r.missing.push(expr);
      return `\${${expr}}`;
    }
    if (hit.source.kind === 'file') r.fromFiles.push({ file: hit.source.file, key: expr.trim(), value: hit.value });
    return hit.value;
  };
  // `${models}` alone is the value itself (a list or mapping for foreach), not its text.
  if (matches.length === 1 && matches[0][0] === s) return lookup(matches[0][1]);
  let out = '';
  let at = 0;
  for (const m of matches) {
    out += s.slice(at, m.index) + toStr(lookup(m[1]), inCmd);
    at = m.index + m[0].length;
  }
  return (out + s.slice(at)).replace(/\\\$\{/g, '${');
}

/** Python's `str()` as DVC applies it: booleans lower-case, a mapping in a command as `--key value` flags. */
export function toStr(v: unknown, inCmd = false): string {
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v === null || v === undefined) return 'None';
  if (isObject(v) && inCmd) return flags(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function flags(obj: Record<string, unknown>, prefix = ''): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    const name = prefix + k;
    if (isObject(v)) parts.push(flags(v, `${name}.`));
    else if (typeof v === 'boolean') { if (v) parts.push(`--${name}`); }
    else if (typeof v === 'string') parts.push(`--${name} ${quote(v)}`);
    else if (Array.isArray(v)) parts.push(`--${name} ${v.map((i) => (typeof i === 'string' ? quote(i) : toStr(i))).join(' ')}`);
    else parts.push(`--${name} ${toStr(v)}`);
  }
  return parts.filter((p) => p !== '').join(' ');
}

/** Python's shlex.quote. */
function quote(s: string): string {
  if (s !== '' && /^[\w@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'"'"'`)}'`;
}
