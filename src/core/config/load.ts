// config/: the `.pipelinerc` language. This module loads and validates it (with `.pipelinerc.local` and the params files).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DvclError } from '../errors.js';
import { HASH_ALGORITHMS, type HashAlgorithm } from '../hashing/algorithms.js';
import { isInside, overlaps } from '../util/paths.js';
import { RESERVED_HINT, reservedOut, reservedTemplate } from './reserved.js';
import { commandRefusal } from './command-template.js';
import { closest, ITEM_VARS, templateBase, templateNames } from '../template.js';
import { readYaml, type KeyPath, type YamlSource } from './yaml-source.js';
import { bool, checkKeys, envMap, isObject, pathList, posInt, relPath, str, strList } from './fields.js';
import { loadParams, paramRefs } from './params.js';
import { checkCrossStage } from './cross-stage.js';
import { cachedParse } from './parse-cache.js';
import type { PipelineConfig, RemoteSettings, Settings, StageConfig } from '../pipeline.js';
import { checkRemoteOptions, parseRemoteUrl } from './remote-settings.js';

export const CONFIG_FILE = '.pipelinerc';
export const LOCAL_CONFIG_FILE = '.pipelinerc.local';
// The keys each level accepts; schema/pipelinerc.schema.json lists the same (test/schema.test.ts keeps them in step).
export const TOP_KEYS: readonly string[] = ['version', 'settings', 'params', 'stages'];
export const SETTING_KEYS: readonly string[] = ['jobs', 'hash', 'max_attempts', 'shell', 'cache', 'run_cache', 'remote', 'remote_options'];
export const STAGE_KEYS: readonly string[] = ['desc', 'cmd', 'deps', 'params', 'outs', 'env', 'wdir', 'persist', 'frozen', 'always_changed', 'foreach', 'out'];

export function findRoot(cwd: string): string {
  let dir = path.resolve(cwd);
  for (;;) {
    if (fs.existsSync(path.join(dir, CONFIG_FILE))) return dir;
    const up = path.dirname(dir);
    if (up === dir) {
      throw new DvclError('no_project', `no ${CONFIG_FILE} found in ${path.resolve(cwd)} or any parent folder`, {
        suggestions: ['run `dvcl init` to create one'],
      });
    }
    dir = up;
  }
}

export function defaultSettings(): Settings {
  return { jobs: Math.max(1, os.availableParallelism?.() ?? os.cpus().length), hash: 'xxh128', max_attempts: 3, shell: '/bin/sh', cache: true };
}

export function loadConfig(opts: { cwd: string; root?: string }): PipelineConfig {
  const root = opts.root ?? findRoot(opts.cwd);
  // Parsed once per change of its files: .dvcl/cache/config (see parse-cache.ts).
  return cachedParse({ root, name: 'config', files: [CONFIG_FILE, LOCAL_CONFIG_FILE], parse: () => withParams(root), moreFiles: (cfg) => Object.keys(cfg.params) });
}

/**
 * A change of a params file alone (the usual edit between runs) reads the params again, not
 * `.pipelinerc`: its parse is cached apart, in .dvcl/cache/config-stages (500 stages: ~190 ms).
 */
function withParams(root: string): PipelineConfig {
  const stages = cachedParse({ root, name: 'config-stages', files: [CONFIG_FILE, LOCAL_CONFIG_FILE], parse: () => parseStages(root).cfg });
  try {
    return { ...stages, params: loadParams(root, WITHOUT_SOURCE, stages.stages) };
  } catch (e) {
    if (e instanceof NeedsSource) return parseConfig(root); // which says where in .pipelinerc
    throw e;
  }
}

class NeedsSource extends DvclError {}

/** In place of `.pipelinerc`'s source when it was not parsed: a problem found is reported by parsing it after all. */
const WITHOUT_SOURCE = { error: (): DvclError => new NeedsSource('config', 'a params problem (located by parsing .pipelinerc)') };

function parseConfig(root: string): PipelineConfig {
  const { cfg, src } = parseStages(root);
  const params = loadParams(root, src, cfg.stages);
  return { ...cfg, params };
}

/** All but the params' values: what depends on `.pipelinerc` (and `.local`) only. */
function parseStages(root: string): { cfg: Omit<PipelineConfig, 'params'>; src: YamlSource } {
  const src = readYaml(root, CONFIG_FILE);
  const raw = src.toJS() ?? {};
  if (!isObject(raw)) throw src.error([], 'the file must be a mapping with `stages:`');
  checkKeys(src, [], raw, TOP_KEYS);
  if (raw.version !== undefined && raw.version !== 1) {
    throw src.error(['version'], `unsupported version ${JSON.stringify(raw.version)}`, 'this dvcl reads `version: 1`');
  }
  const settings = parseSettings(src, raw.settings, defaultSettings());
  const remote = { shared: remoteSettings(src, raw.settings, root), local: {} as RemoteSettings };
  const localPath = path.join(root, LOCAL_CONFIG_FILE);
  if (fs.existsSync(localPath)) {
    const local = readYaml(root, LOCAL_CONFIG_FILE);
    const lraw = local.toJS() ?? {};
    if (!isObject(lraw)) throw local.error([], 'the file must be a mapping with `settings:`');
    checkKeys(local, [], lraw, ['settings']);
    Object.assign(settings, parseSettings(local, lraw.settings, settings));
    remote.local = remoteSettings(local, lraw.settings, root);
  }
  const paramsFile = raw.params === undefined ? 'params.yaml' : relPath(src, ['params'], raw.params);
  const stages: StageConfig[] = [];
  if (raw.stages !== undefined && raw.stages !== null) {
    if (!isObject(raw.stages)) throw src.error(['stages'], 'must be a mapping of stage name to stage');
    for (const [name, def] of Object.entries(raw.stages)) stages.push(parseStage(src, name, def, paramsFile));
  }
  checkParamsOuts(src, raw.stages as Record<string, Record<string, unknown>>, stages, raw.params === undefined ? null : paramsFile);
  const dag = checkCrossStage(src, stages);
  return { cfg: { root, settings, paramsFile, stages, dag, remote }, src };
}

function parseSettings(src: YamlSource, v: unknown, base: Settings): Settings {
  const s = { ...base };
  if (v === undefined || v === null) return s;
  const at = ['settings'];
  if (!isObject(v)) throw src.error(at, 'must be a mapping');
  checkKeys(src, at, v, SETTING_KEYS);
  if (v.jobs !== undefined) s.jobs = posInt(src, [...at, 'jobs'], v.jobs);
  if (v.max_attempts !== undefined) s.max_attempts = posInt(src, [...at, 'max_attempts'], v.max_attempts);
  if (v.hash !== undefined) {
    if (!HASH_ALGORITHMS.includes(v.hash as HashAlgorithm)) {
      throw src.error([...at, 'hash'], `unknown hash ${JSON.stringify(v.hash)}`, `use one of ${HASH_ALGORITHMS.join(', ')}`);
    }
    s.hash = v.hash as HashAlgorithm;
  }
  if (v.shell !== undefined) s.shell = str(src, [...at, 'shell'], v.shell);
  if (v.cache !== undefined) s.cache = bool(src, [...at, 'cache'], v.cache);
  if (v.run_cache !== undefined) {
    if (v.run_cache !== true && v.run_cache !== false && v.run_cache !== 'pull') {
      throw src.error([...at, 'run_cache'], `must be true, false or pull, not ${JSON.stringify(v.run_cache)}`, 'true: restore from the local run cache; pull: from the remote too; false: always run');
    }
    s.run_cache = v.run_cache;
  }
  return s;
}

function remoteSettings(src: YamlSource, v: unknown, root: string): RemoteSettings {
  if (!isObject(v)) return {};
  const at = ['settings'];
  const out: RemoteSettings = {};
  if (v.remote !== undefined && v.remote !== null) {
    const url = str(src, [...at, 'remote'], v.remote);
    try {
      parseRemoteUrl(url, root);
    } catch (e) {
      const err = e as DvclError;
      throw src.error([...at, 'remote'], err.message, err.suggestions?.[0]);
    }
    out.remote = url;
  }
  if (v.remote_options !== undefined) {
    const r = checkRemoteOptions(v.remote_options);
    if ('problem' in r) throw src.error([...at, 'remote_options', ...r.problem.key], r.problem.message);
    out.options = r.options;
  }
  return out;
}

function parseStage(src: YamlSource, name: string, def: unknown, paramsFile: string): StageConfig {
  const at: KeyPath = ['stages', name];
  if (!/^[A-Za-z0-9_-]+$/.test(name)) {
    throw src.error(at, `invalid stage name "${name}"`, 'stage names use letters, digits, `-` and `_`', 'key');
  }
  if (!isObject(def)) throw src.error(at, 'a stage must be a mapping with at least `cmd`');
  checkKeys(src, at, def, STAGE_KEYS);
  if (def.cmd === undefined) throw src.error(at, 'missing `cmd`', 'every stage needs a command to run', 'key');
  const cmd = typeof def.cmd === 'string' ? [def.cmd] : strList(src, [...at, 'cmd'], def.cmd);
  if (cmd.length === 0 || cmd.some((c) => c.trim() === '')) throw src.error([...at, 'cmd'], 'the command is empty');
  const stage: StageConfig = {
    name,
    desc: def.desc === undefined ? undefined : str(src, [...at, 'desc'], def.desc),
    cmd,
    deps: pathList(src, [...at, 'deps'], def.deps),
    params: paramRefs(src, [...at, 'params'], def.params, paramsFile),
    outs: pathList(src, [...at, 'outs'], def.outs),
    env: envMap(src, [...at, 'env'], def.env),
    wdir: def.wdir === undefined ? '.' : relPath(src, [...at, 'wdir'], def.wdir),
    persist: bool(src, [...at, 'persist'], def.persist),
    frozen: bool(src, [...at, 'frozen'], def.frozen),
    always_changed: bool(src, [...at, 'always_changed'], def.always_changed),
  };
  stage.outs.forEach((o, i) => {
    const why = reservedOut(o);
    if (why) throw src.error(outAt(def, at, i), `"${outText(def, i)}" ${why}`, RESERVED_HINT);
  });
  const perItem = def.foreach !== undefined || def.out !== undefined;
  if (perItem) {
    if (def.foreach === undefined) throw src.error([...at, 'out'], '`out` needs `foreach`', 'a per-item stage declares both `foreach` (the inputs) and `out` (each item\'s output)', 'key');
    if (def.out === undefined) throw src.error([...at, 'foreach'], '`foreach` needs `out`', 'add `out: some/dir/${stem}.ext`, the output of each item', 'key');
    if (def.outs !== undefined) throw src.error([...at, 'outs'], 'a per-item stage declares its output with `out`, not `outs`', undefined, 'key');
    const globs = typeof def.foreach === 'string' ? [def.foreach] : strList(src, [...at, 'foreach'], def.foreach);
    stage.foreach = globs.map((g, i) => relPath(src, typeof def.foreach === 'string' ? [...at, 'foreach'] : [...at, 'foreach', i], g));
    if (stage.foreach.length === 0) throw src.error([...at, 'foreach'], 'needs at least one glob');
    const out = str(src, [...at, 'out'], def.out);
    checkTemplate(src, [...at, 'out'], out, ['item', 'stem', 'name', 'dir']);
    if (templateNames(out).length === 0) throw src.error([...at, 'out'], 'the item output must use a template variable', 'e.g. `data/parsed/${stem}.json`, so each item gets its own file');
    stage.out = relPath(src, [...at, 'out'], out);
    const why = reservedTemplate(stage.out);
    if (why) throw src.error([...at, 'out'], `"${out}" ${why}`, RESERVED_HINT);
  }
  stage.cmd.forEach((c, i) => {
    const where: KeyPath = typeof def.cmd === 'string' ? [...at, 'cmd'] : [...at, 'cmd', i];
    checkTemplate(src, where, c, perItem ? [...ITEM_VARS] : []);
    const refused = perItem ? commandRefusal(c) : null;
    if (refused) throw src.error(where, refused.message, refused.hint);
  });
  return stage;
}

/** Where `outs[i]` was written, and as what: `outs: x` is one path, not a list. */
function outAt(def: Record<string, unknown>, at: KeyPath, i: number): KeyPath {
  return Array.isArray(def.outs) ? [...at, 'outs', i] : [...at, 'outs'];
}

function outText(def: Record<string, unknown>, i: number): string {
  return String(Array.isArray(def.outs) ? def.outs[i] : def.outs);
}

// No out may be, contain or lie in a params file: it is removed before its stage runs, and the values it held lost.
function checkParamsOuts(src: YamlSource, raw: Record<string, Record<string, unknown>> | undefined, stages: StageConfig[], named: string | null): void {
  const readers = new Map<string, string>();
  if (named !== null) readers.set(named, 'named by `params:`');
  for (const s of stages) for (const ref of s.params) if (!readers.has(ref.file)) readers.set(ref.file, `read by stage ${s.name}`);
  if (readers.size === 0) return;
  const clash = (p: string): string | null => {
    for (const [file, by] of readers) {
      if (!overlaps(p, file)) continue;
      return `${p === file ? 'is' : isInside(file, p) ? 'contains' : 'lies in'} the params file ${file}, ${by}`;
    }
    return null;
  };
  for (const s of stages) {
    const at = ['stages', s.name];
    const def = raw?.[s.name] ?? {};
    s.outs.forEach((o, i) => {
      const why = clash(o);
      if (why) throw src.error(outAt(def, at, i), `"${outText(def, i)}" ${why}`, RESERVED_HINT);
    });
    const base = s.out === undefined ? '.' : templateBase(s.out);
    const why = base === '.' ? null : clash(base);
    if (why) throw src.error([...at, 'out'], `"${String(def.out)}" would write into ${base}, which ${why}`, RESERVED_HINT);
  }
}

function checkTemplate(src: YamlSource, at: KeyPath, s: string, allowed: string[]): void {
  // `${train.lr}` (DVC's parameter interpolation) or `${item.x}`: the shell would fail on every
  // item with "Bad substitution", spending each one's attempts. dvcl does not interpolate params.
  const dotted = /\$\{([A-Za-z_][A-Za-z0-9_]*\.[^}]*)\}/.exec(s);
  if (dotted) {
    throw src.error(at, `\${${dotted[1]}} is not a dvcl template: dvcl does not substitute parameters into commands`,
      `read the parameter in your script from the params file (and list it under \`params:\` so a change re-runs the stage); templates are ${ITEM_VARS.map((v) => `\${${v}}`).join(', ')}`);
  }
  for (const name of templateNames(s)) {
    if (allowed.includes(name)) continue;
    if ((ITEM_VARS as readonly string[]).includes(name)) {
      throw src.error(at, `\${${name}} is not available here`, allowed.length ? `available: ${allowed.map((a) => `\${${a}}`).join(', ')}` : 'item variables exist only in per-item stages (with `foreach` and `out`)');
    }
    const near = closest(name, ITEM_VARS);
    throw src.error(at, `unknown template variable \${${name}}`,
      (near ? `did you mean \${${near}}? ` : '') + `\${lowercase} names are dvcl templates; write $${name} for a shell variable`);
  }
}
