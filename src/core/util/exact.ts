// Params compared, hashed and shown exactly: JSON.stringify turns NaN/±Infinity into null and throws on
// a BigInt. Integers a double would round are read as BigInt; other numbers stay numbers, as before.

export function exactInteger(_key: unknown, v: unknown): unknown {
  return typeof v === 'bigint' && BigInt(Number(v)) === v ? Number(v) : v;
}

export function canonicalText(v: unknown): string | undefined {
  return write(v, { sort: true, indent: '', bigint: (b) => `${b}n`, nonFinite: String });
}

export function sameValue(a: unknown, b: unknown): boolean {
  return canonicalText(a) === canonicalText(b);
}

export function exactJson(v: unknown): string {
  return write(v, { sort: false, indent: '  ', bigint: String, nonFinite: (n) => JSON.stringify(yamlWord(n)) }) ?? 'null';
}

export function showValue(v: unknown): string {
  return write(v, { sort: false, indent: '', bigint: String, nonFinite: yamlWord }) ?? 'undefined';
}

/** For writing YAML: an integer past 2^53 as the BigInt of its exact value (`1152921504606846976`, not `…847000`). */
export function exactIntegers(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) && !Number.isSafeInteger(v) && Math.abs(v) < 1e21 ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(exactIntegers);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, exactIntegers(x)]));
  return v;
}

function yamlWord(n: number): string {
  return Number.isNaN(n) ? '.nan' : n > 0 ? '.inf' : '-.inf';
}

interface Style { sort: boolean; indent: string; bigint: (b: bigint) => string; nonFinite: (n: number) => string }

function write(v: unknown, s: Style, depth = ''): string | undefined {
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') v = (v as { toJSON: () => unknown }).toJSON();
  switch (typeof v) {
    case 'bigint': return s.bigint(v);
    case 'number': return Number.isFinite(v) ? JSON.stringify(v) : s.nonFinite(v);
    case 'string': case 'boolean': return JSON.stringify(v);
    case 'object': break;
    default: return undefined; // undefined, a function, a symbol
  }
  if (v === null) return 'null';
  const inner = depth + s.indent;
  const open = s.indent ? `\n${inner}` : '';
  const close = s.indent ? `\n${depth}` : '';
  const sep = s.indent ? `,\n${inner}` : ',';
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[${open}${Array.from(v, (x) => write(x, s, inner) ?? 'null').join(sep)}${close}]`;
  }
  const obj = v as Record<string, unknown>;
  // Built and read back as sortDeep did: integer-like keys ("2", "10") still come first, as in JSON.stringify.
  const keys = Object.keys(s.sort ? Object.fromEntries(Object.keys(obj).sort(byCodeUnit).map((k) => [k, 0])) : obj);
  const parts: string[] = [];
  for (const k of keys) {
    const x = write(obj[k], s, inner);
    if (x !== undefined) parts.push(`${JSON.stringify(k)}:${s.indent ? ' ' : ''}${x}`);
  }
  return parts.length ? `{${open}${parts.join(sep)}${close}}` : '{}';
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** sameValue's answer where no key holds undefined, building nothing: merges compare large manifests item by item. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b); // a param left at .nan
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = Object.keys(ao);
  if (keys.length !== Object.keys(bo).length) return false;
  for (const k of keys) if (!Object.hasOwn(bo, k) || !deepEqual(ao[k], bo[k])) return false;
  return true;
}
