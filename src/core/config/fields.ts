// Typed readers of `.pipelinerc` values: each failure names the key and its position.
import { closest } from '../template.js';
import { normalizeRelPath } from '../util/paths.js';
import type { KeyPath, YamlSource } from './yaml-source.js';

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function checkKeys(src: YamlSource, at: KeyPath, obj: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (allowed.includes(k)) continue;
    const near = closest(k, allowed);
    throw src.error([...at, k], `unknown key "${k}"`, near ? `did you mean \`${near}\`?` : `allowed keys: ${allowed.join(', ')}`, 'key');
  }
}

export function str(src: YamlSource, at: KeyPath, v: unknown): string {
  if (typeof v !== 'string') throw src.error(at, `must be a string, not ${typeName(v)}`);
  return v;
}

export function strList(src: YamlSource, at: KeyPath, v: unknown): string[] {
  if (!Array.isArray(v)) throw src.error(at, `must be a list of strings, not ${typeName(v)}`);
  return v.map((x, i) => str(src, [...at, i], x));
}

export function bool(src: YamlSource, at: KeyPath, v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw src.error(at, `must be true or false, not ${typeName(v)}`);
  return v;
}

export function posInt(src: YamlSource, at: KeyPath, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw src.error(at, `must be a whole number of at least 1, not ${JSON.stringify(v)}`);
  return v;
}

export function relPath(src: YamlSource, at: KeyPath, v: unknown): string {
  const r = normalizeRelPath(str(src, at, v));
  if ('error' in r) throw src.error(at, r.error, 'paths are relative to the folder of .pipelinerc and stay inside it');
  return r.path;
}

export function pathList(src: YamlSource, at: KeyPath, v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return [relPath(src, at, v)];
  if (!Array.isArray(v)) throw src.error(at, `must be a list of paths, not ${typeName(v)}`);
  const seen = new Set<string>();
  return v.map((x, i) => {
    const p = relPath(src, [...at, i], x);
    if (seen.has(p)) throw src.error([...at, i], `${p} is listed twice`);
    seen.add(p);
    return p;
  });
}

export function envMap(src: YamlSource, at: KeyPath, v: unknown): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw src.error(at, 'must be a mapping of variable name to value');
  const env: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw src.error([...at, k], `invalid environment variable name "${k}"`, undefined, 'key');
    if (typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean') throw src.error([...at, k], `must be a string or number, not ${typeName(x)}`);
    env[k] = String(x);
  }
  return env;
}

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}
