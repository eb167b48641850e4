// Parameters: which keys of which params files a stage reads, and their values.
import fs from 'node:fs';
import path from 'node:path';
import type { ParamRef, StageConfig } from '../pipeline.js';
import { closest } from '../template.js';
import { isObject, relPath, strList } from './fields.js';
import { readYaml, type KeyPath, type YamlSource } from './yaml-source.js';

const refSites = new WeakMap<ParamRef, { key: KeyPath; file: KeyPath; fileWhich: 'key' | 'value' }>();

export function paramRefs(src: YamlSource, at: KeyPath, v: unknown, paramsFile: string): ParamRef[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw src.error(at, 'must be a list of parameter keys, or of `{file: [keys]}`');
  const refs: ParamRef[] = [];
  const add = (ref: ParamRef, key: KeyPath, file: KeyPath, fileWhich: 'key' | 'value') => {
    refSites.set(ref, { key, file, fileWhich });
    refs.push(ref);
  };
  v.forEach((entry, i) => {
    if (typeof entry === 'string' && entry !== '') add({ file: paramsFile, key: entry }, [...at, i], [...at, i], 'value');
    else if (isObject(entry)) {
      for (const [file, keys] of Object.entries(entry)) {
        const f = relPath(src, [...at, i, file], file);
        // `{params.yaml: null}`: every key of the file, as DVC tracks a whole params file.
        if (keys === null) add({ file: f, key: WHOLE_FILE }, [...at, i, file], [...at, i, file], 'key');
        else strList(src, [...at, i, file], keys).forEach((k, j) => add({ file: f, key: k }, [...at, i, file, j], [...at, i, file], 'key'));
      }
    } else throw src.error([...at, i], 'must be a parameter key (`section.key`) or `{file.yaml: [keys]}`');
  });
  return refs;
}

/** The key of a ParamRef that stands for a whole params file, until loadParams lists its keys. */
export const WHOLE_FILE = '\0whole file';

export function loadParams(root: string, src: Pick<YamlSource, 'error'>, stages: StageConfig[]): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = Object.create(null); // keyed by file names: `__proto__` is one
  const files = new Map<string, { src: YamlSource; data: unknown }>();
  for (const stage of stages) {
    const expanded: ParamRef[] = [];
    stage.params.forEach((ref, i) => {
      const site = refSites.get(ref) ?? { key: ['stages', stage.name, 'params', i], file: ['stages', stage.name, 'params'], fileWhich: 'value' as const };
      let f = files.get(ref.file);
      if (!f) {
        if (!fs.existsSync(path.join(root, ref.file))) {
          throw src.error(site.file, `params file ${ref.file} does not exist`, `create ${ref.file} or name another file with {file.yaml: [keys]}`, site.fileWhich);
        }
        const psrc = readYaml(root, ref.file, { exact: true });
        f = { src: psrc, data: psrc.toJS() };
        files.set(ref.file, f);
      }
      if (ref.key === WHOLE_FILE) {
        if (f.data !== null && !isObject(f.data)) throw src.error(site.file, `params file ${ref.file} is not a mapping of keys`, undefined, site.fileWhich);
        for (const [key, value] of Object.entries(f.data ?? {})) {
          const whole = { file: ref.file, key };
          refSites.set(whole, site);
          expanded.push(whole);
          (out[ref.file] ??= Object.create(null))[key] = value;
        }
        return;
      }
      expanded.push(ref);
      const value = lookup(f.data, ref.key);
      if (value === undefined) {
        const near = closest(ref.key, dottedKeys(f.data));
        throw src.error(site.key, `parameter ${ref.key} is not in ${ref.file}`, near ? `did you mean \`${near}\`?` : undefined);
      }
      (out[ref.file] ??= Object.create(null))[ref.key] = value;
    });
    stage.params = expanded;
  }
  return out;
}

function dottedKeys(data: unknown, prefix = ''): string[] {
  if (!isObject(data)) return [];
  return Object.entries(data).flatMap(([k, v]) => [prefix + k, ...dottedKeys(v, `${prefix}${k}.`)]);
}

/** `prepare.split` → data.prepare.split (an exact key with a dot wins). */
export function lookup(data: unknown, key: string): unknown {
  if (!isObject(data)) return undefined;
  if (Object.hasOwn(data, key)) return data[key]; // own keys only: `constructor` is not a parameter
  const parts = key.split('.');
  let cur: unknown = data;
  for (const p of parts) {
    if (!isObject(cur) || !Object.hasOwn(cur, p)) return undefined;
    cur = cur[p];
  }
  return cur;
}
