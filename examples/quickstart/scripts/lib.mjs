// Helpers shared by the quickstart stages: a tiny params.yaml reader, CSV I/O, rounding, errors.
import fs from 'node:fs';
import path from 'node:path';

/** Print a clear message on stderr and exit non-zero (2: bad usage or params, 1: bad data). */
export function die(message, code = 1) {
  process.stderr.write(`${path.basename(process.argv[1])}: error: ${message}\n`);
  process.exit(code);
}

export function args(n, usage) {
  const a = process.argv.slice(2);
  if (a.length !== n) die(`usage: node ${path.relative(process.cwd(), process.argv[1])} ${usage}`, 2);
  return a;
}

export function readText(file) {
  try { return fs.readFileSync(file, 'utf8'); } catch (e) { die(`cannot read ${file}: ${e.code ?? e.message}`); }
}

/** Write a file, creating its folder first. */
export function writeText(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

function scalar(raw, where) {
  const v = raw.trim();
  if (v === '' || v === '~' || v === 'null') return null;
  if (v === 'true' || v === 'false') return v === 'true';
  if (/^"(?:[^"\\]|\\.)*"$/.test(v)) return JSON.parse(v);
  if (/^'.*'$/.test(v)) return v.slice(1, -1).replace(/''/g, "'");
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v)) return Number(v);
  if (/^[\[{&*!|>"']/.test(v)) die(`${where}: only plain scalars are supported here, got ${v}`, 2);
  return v;
}

/** Drop a trailing comment: a `#` at the start or after whitespace, outside quotes. */
function stripComment(line) {
  let quote = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) { if (c === quote) quote = null; else if (c === '\\' && quote === '"') i++; }
    else if ((c === '"' || c === "'") && /:\s*$/.test(line.slice(0, i))) quote = c; // a quoted value
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i).trimEnd();
  }
  return line.trimEnd();
}

/**
 * Read the flat two-level YAML of params.yaml (`section:` then indented `key: value`) and return
 * `get(dottedKey)`, which exits with a clear message when the key is missing.
 */
export function loadParams(file = 'params.yaml') {
  const params = {};
  let section = null;
  readText(file).split(/\r?\n/).forEach((line, i) => {
    const where = `${file}:${i + 1}`;
    const text = stripComment(line);
    if (text.trim() === '') return;
    const m = /^(\s*)([A-Za-z0-9_.-]+):(?:\s+(.*))?$/.exec(text);
    if (!m) die(`${where}: cannot parse "${line.trim()}" (expected "key: value")`, 2);
    const [, indent, key, value] = m;
    if (indent === '') {
      section = value === undefined ? (params[key] = {}) : null;
      if (value !== undefined) params[key] = scalar(value, where);
    } else if (section) {
      section[key] = value === undefined ? null : scalar(value, where);
    } else die(`${where}: indented key "${key}" is not inside a section`, 2);
  });
  return (key, check) => {
    const value = key.split('.').reduce((o, k) => (o && typeof o === 'object' && k in o ? o[k] : undefined), params);
    if (value === undefined) die(`parameter ${key} is missing from ${file}`, 2);
    if (check && !check(value)) die(`parameter ${key} has a bad value: ${JSON.stringify(value)}`, 2);
    return value;
  };
}

/** Parse a simple CSV (no quoted fields); returns { header, rows: [{line, fields}] }. */
export function readCsv(file) {
  const lines = readText(file).split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length === 0) die(`${file} is empty`);
  const header = lines[0].split(',').map((h) => h.trim());
  const rows = lines.slice(1).map((l, i) => ({ line: i + 2, fields: l.split(',').map((f) => f.trim()) }));
  return { header, rows };
}

export function expectHeader(file, header, expected) {
  if (header.join(',') !== expected.join(',')) {
    die(`${file}: unexpected header "${header.join(',')}"; expected "${expected.join(',')}"`);
  }
}

/** Round to `d` decimals, never returning -0, so outputs are byte-stable. */
export function round(x, d = 2) {
  const r = Math.round(x * 10 ** d) / 10 ** d;
  return r === 0 ? 0 : r;
}

export const json = (value) => JSON.stringify(value, null, 2) + '\n';
