// dvc.yaml → .pipelinerc, as data: the stages dvcl can run the same way, what it cannot (by line,
// with what to do instead) and hints. Pure: files (params.yaml, `vars:` files) come through `readFile`.
import path from 'node:path';
import { isObject, typeName } from '../config/fields.js';
import { formatKeyPath, type KeyPath, type YamlSource } from '../config/yaml-source.js';
import { resolve, toStr, VarContext } from './dvc-vars.js';
import { pipelineText, type EmittedStage } from './emit.js';
import { translateOuts, type OutsContext } from './dvc-outs.js';

/** One thing of dvc.yaml that the `.pipelinerc` does not carry, and what to do about it. */
export interface Dropped { line: number | null; col: number | null; key: string; message: string; instead: string }

export type ReadResult = { data: unknown } | { missing: true } | { unsupported: string };

export interface DvcInput {
  /** dvc.yaml, parsed (positions for errors and for `dropped`). */
  src: YamlSource;
  /** The folder of dvc.yaml relative to the folder `.pipelinerc` goes to (`.` when the same). */
  base: string;
  /** A file relative to dvc.yaml's folder, parsed as YAML or JSON. */
  readFile: (rel: string) => ReadResult;
}

export interface Translation {
  text: string;
  stages: { name: string; from: string; line: number | null }[];
  dropped: Dropped[];
  hints: string[];
  /** Outs DVC kept in its cache (all but `cache: false`): `dvcl push` shares them now. */
  cachedOuts: string[];
}

const STAGE_KEYS = ['cmd', 'wdir', 'deps', 'params', 'outs', 'metrics', 'plots', 'frozen', 'always_changed', 'desc', 'meta', 'vars'];
const TOP_ADVICE: Record<string, string> = {
  metrics: 'dvcl has no `metrics show`: the files are outs of the stages that write them; read them with your own tools (jq, a notebook), or keep `dvc metrics show` for display',
  plots: 'dvcl draws no plots: the files are outs of the stages that write them; plot them with your own tools (or keep `dvc plots show` for display)',
  artifacts: 'dvcl has no model registry: keep the `artifacts:` section in dvc.yaml for DVC Studio / GTO, or describe the artifacts in your README',
  params: 'dvcl tracks parameters per stage only: list the keys a stage reads under its `params:` (`{file.yaml: null}` for a whole file)',
  datasets: 'dvcl has no datasets: fetch the data in a stage of its own (with `always_changed: true`) whose out the other stages read',
};

export function translateDvc(input: DvcInput): Translation {
  return new Translator(input).run();
}

class Translator implements OutsContext {
  readonly src: YamlSource;
  readonly dropped: Dropped[] = [];
  readonly hints = new Set<string>();
  readonly cachedOuts: string[] = [];
  readonly uncachedOuts: string[] = [];
  private readonly seen = new Set<string>();
  private readonly stages: EmittedStage[] = [];
  private readonly names = new Set<string>();
  private readonly renamed: string[] = [];

  constructor(private readonly input: DvcInput) {
    this.src = input.src;
  }

  run(): Translation {
    const raw = this.src.toJS() ?? {};
    if (!isObject(raw)) throw this.src.error([], 'dvc.yaml must be a mapping with `stages:`');
    const ctx = new VarContext();
    const params = this.input.readFile('params.yaml');
    if ('data' in params && isObject(params.data)) ctx.merge(params.data, { kind: 'file', file: this.projectPath('params.yaml') });
    if (raw.vars !== undefined) this.loadVars(ctx, raw.vars, ['vars'], '.');
    for (const key of Object.keys(raw)) {
      if (key === 'stages' || key === 'vars') continue;
      const advice = TOP_ADVICE[key];
      this.drop([key], advice ? `the \`${key}\` section` : `unknown key "${key}"`, advice ?? 'DVC does not know it either: remove it');
    }
    if (raw.stages !== undefined && raw.stages !== null) {
      if (!isObject(raw.stages)) throw this.src.error(['stages'], 'must be a mapping of stage name to stage');
      for (const [name, def] of Object.entries(raw.stages)) this.group(name, def, ctx);
    }
    if (this.stages.length === 0) this.hints.add('dvc.yaml declares no stages: the .pipelinerc has none either');
    if (this.renamed.length) this.hints.add(`stage names changed (dvcl names use letters, digits, \`-\` and \`_\`): ${this.renamed.join(', ')}`);
    if (this.cachedOuts.length) {
      this.hints.add(`DVC kept these outs in its cache: ${this.cachedOuts.join(', ')}; dvcl keeps its own (\`dvcl repro\` records each out in .dvcl/objects/): set \`settings.remote\` and run \`dvcl push\` to share them (see docs/MIGRATING.md)`);
    }
    if (this.uncachedOuts.length) {
      this.hints.add(`outs DVC did not cache (\`cache: false\`, committed to git): ${this.uncachedOuts.join(', ')}; keep committing them (dvcl caches and pushes every out as well, which does no harm)`);
    }
    this.dropped.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
    const notTranslated = this.dropped.map((d) => `${this.where(d)}: ${d.message}`);
    const text = pipelineText({ source: this.src.file, stages: this.stages, notTranslated });
    return { text, stages: this.stages.map(({ name, from, line }) => ({ name, from, line })), dropped: this.dropped, hints: [...this.hints], cachedOuts: this.cachedOuts };
  }

  where(d: Dropped): string {
    return d.line === null ? this.src.file : `${this.src.file}:${d.line}:${d.col}`;
  }

  /** Record what is not translated, once per place and message (a foreach template is visited per entry). */
  drop(at: KeyPath, message: string, instead: string, which: 'key' | 'value' = 'key'): void {
    const pos = this.src.pos(at, which);
    const id = `${pos?.line}:${pos?.col}:${message}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    this.dropped.push({ line: pos?.line ?? null, col: pos?.col ?? null, key: formatKeyPath(at), message, instead });
  }

  /** A path of dvc.yaml's folder (or a stage's wdir in it) as `.pipelinerc` names it, or why it cannot be one. */
  place(p: string, wdir: string): { path: string } | { problem: string; instead: string } {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p) || /^remote:\/\//.test(p)) {
      return { problem: `external dependency ${p}`, instead: 'dvcl tracks files inside the project: download it in a stage of its own (`always_changed: true`) whose out the other stages read' };
    }
    if (path.posix.isAbsolute(p) || /^[A-Za-z]:[\\/]/.test(p)) {
      return { problem: `absolute path ${p}`, instead: 'dvcl tracks files inside the project: copy or link it into the project and name it relative to the root' };
    }
    const n = path.posix.normalize(path.posix.join(this.input.base, wdir, p)).replace(/\/+$/, '') || '.';
    if (n === '..' || n.startsWith('../')) return { problem: `${p} lies outside the project`, instead: 'move it into the project (dvcl paths stay inside the folder of .pipelinerc), or import into a .pipelinerc higher up with --out' };
    return { path: n };
  }

  projectPath(rel: string): string {
    return path.posix.normalize(path.posix.join(this.input.base, rel));
  }

  /** Resolves `${…}` in one field; a value taken from a params file is reported, a missing one is an error (DVC's too). */
  value(ctx: VarContext, at: KeyPath, v: unknown, opts: { inCmd?: boolean } = {}): unknown {
    if (v === undefined || v === null) return v;
    // Even with nothing to interpolate: DVC turns an escaped `\${` into `${`.
    const r = resolve(ctx, v, opts);
    if (r.missing.length) {
      const unread = this.dropped.some((d) => d.message.startsWith('vars file'));
      throw this.src.error(at, `\${${r.missing[0]}} is not defined`, `define it under \`vars:\` or in params.yaml${unread ? ' (or in a YAML/JSON copy of the vars file dvcl import could not read)' : ''}`);
    }
    for (const f of r.fromFiles) {
      const size = Array.isArray(f.value) ? f.value.length : isObject(f.value) ? Object.keys(f.value).length : null;
      const now = `${f.file}:${f.key} (now ${size === null ? JSON.stringify(toStr(f.value, opts.inCmd)) : `${size} entries`})`;
      this.drop(at, `\${${f.key}}, replaced by its value in ${now}`,
        opts.inCmd
          ? `dvcl substitutes no parameters into commands: changing ${f.file} will not change the command. Read the value in the script (and list ${f.key} under \`params:\`), or run \`dvcl import\` again after changing it`
          : `dvcl substitutes no parameters: changing ${f.file} will not change this value; edit .pipelinerc, or run \`dvcl import\` again after changing it`, 'value');
    }
    return r.value;
  }

  private loadVars(ctx: VarContext, vars: unknown, at: KeyPath, wdir: string): void {
    if (!Array.isArray(vars)) throw this.src.error(at, `must be a list of files and mappings, not ${typeName(vars)}`);
    vars.forEach((entry, i) => {
      if (isObject(entry)) return ctx.merge(entry, { kind: 'inline' });
      if (typeof entry !== 'string') throw this.src.error([...at, i], `must be a file name or a mapping, not ${typeName(entry)}`);
      const [file, keys] = entry.includes(':') ? [entry.slice(0, entry.indexOf(':')), entry.slice(entry.indexOf(':') + 1).split(',').map((k) => k.trim()).filter(Boolean)] : [entry, []];
      const rel = path.posix.join(wdir, file);
      const got = this.input.readFile(rel);
      if ('missing' in got) throw this.src.error([...at, i], `vars file ${this.projectPath(rel)} does not exist`, 'DVC needs it as well: create it, or remove it from `vars:`');
      if ('unsupported' in got) return this.drop([...at, i], `vars file ${this.projectPath(rel)} (${got.unsupported})`, 'convert it to YAML or JSON, or write its values under `vars:` in dvc.yaml', 'value');
      if (!isObject(got.data)) throw this.src.error([...at, i], `vars file ${this.projectPath(rel)} is not a mapping of names`);
      const data = got.data;
      const picked = keys.length ? Object.fromEntries(keys.filter((k) => Object.hasOwn(data, k)).map((k) => [k, data[k]])) : data;
      ctx.merge(picked, { kind: 'file', file: this.projectPath(rel) });
    });
  }

  /** A stage, or the stages a `foreach`/`do` or `matrix` generates. */
  private group(name: string, def: unknown, ctx: VarContext): void {
    const at: KeyPath = ['stages', name];
    if (!isObject(def)) throw this.src.error(at, `a stage must be a mapping with \`cmd\`, not ${typeName(def)}`);
    if ('foreach' in def || 'do' in def) {
      if (!('foreach' in def)) throw this.src.error([...at, 'do'], '`do` needs `foreach`', undefined, 'key');
      if (!isObject(def.do)) throw this.src.error([...at, 'do'], '`do` must be a stage (a mapping with `cmd`)', undefined, 'key');
      for (const k of Object.keys(def)) if (k !== 'foreach' && k !== 'do') this.drop([...at, k], `"${k}" beside \`foreach\`/\`do\` is ignored by DVC too`, 'move it into `do:`');
      const items = this.listFrom(ctx, [...at, 'foreach'], def.foreach);
      for (const [key, item, isMapping] of items) {
        const each = ctx.clone();
        each.merge(isMapping ? { item, key } : { item }, { kind: 'inline' });
        this.stage(`${name}@${key}`, def.do, [...at, 'do'], each);
      }
      return;
    }
    if ('matrix' in def) {
      const { matrix, ...template } = def;
      if (!isObject(matrix)) throw this.src.error([...at, 'matrix'], 'must be a mapping of name to list');
      const axes = Object.entries(matrix).map(([k, v]) => {
        const list = this.value(ctx, [...at, 'matrix', k], v);
        if (!Array.isArray(list)) throw this.src.error([...at, 'matrix', k], `must be a list, not ${typeName(list)}`);
        return [k, list] as const;
      });
      let combos: { key: string[]; item: Record<string, unknown> }[] = [{ key: [], item: {} }];
      for (const [k, list] of axes) {
        combos = combos.flatMap((c) => list.map((v, i) => ({ key: [...c.key, typeof v === 'object' && v !== null ? `${k}${i}` : toStr(v)], item: { ...c.item, [k]: v } })));
      }
      for (const c of combos) {
        const each = ctx.clone();
        each.merge({ item: c.item, key: c.key.join('-') }, { kind: 'inline' });
        this.stage(`${name}@${c.key.join('-')}`, template, at, each);
      }
      return;
    }
    this.stage(name, def, at, ctx);
  }

  /** foreach's entries as DVC names them: a mapping by key, a list of scalars by value, a list of mappings by index. */
  private listFrom(ctx: VarContext, at: KeyPath, v: unknown): [string, unknown, boolean][] {
    const data = this.value(ctx, at, v);
    if (isObject(data)) return Object.entries(data).map(([k, x]) => [k, x, true]);
    if (!Array.isArray(data)) throw this.src.error(at, `must be a list or a mapping, not ${typeName(data)}`);
    const composite = data.some((x) => typeof x === 'object' && x !== null);
    return data.map((x, i) => [composite ? String(i) : toStr(x), x, false]);
  }

  private stage(dvcName: string, def: unknown, at: KeyPath, outer: VarContext): void {
    if (!isObject(def)) throw this.src.error(at, `a stage must be a mapping with \`cmd\`, not ${typeName(def)}`);
    if (def.cmd === undefined) throw this.src.error(at, 'missing `cmd`', 'every stage needs a command (DVC requires it too)', 'key');
    for (const k of Object.keys(def)) {
      if (STAGE_KEYS.includes(k)) continue;
      this.drop([...at, k], `unknown stage key "${k}"`, `DVC's stage keys are ${STAGE_KEYS.join(', ')}: remove it`);
    }
    const wdirRaw = def.wdir === undefined || def.wdir === null ? '.' : this.value(outer, [...at, 'wdir'], def.wdir);
    if (typeof wdirRaw !== 'string') throw this.src.error([...at, 'wdir'], `must be a path, not ${typeName(wdirRaw)}`);
    let ctx = outer;
    if (def.vars !== undefined) {
      ctx = outer.clone();
      this.loadVars(ctx, def.vars, [...at, 'vars'], wdirRaw);
    }
    const out: Record<string, unknown> = {};
    if (def.desc !== undefined) out.desc = String(this.value(ctx, [...at, 'desc'], def.desc));
    out.cmd = this.cmd(ctx, [...at, 'cmd'], def.cmd);
    const wdir = this.place(wdirRaw, '.');
    if ('problem' in wdir) this.drop([...at, 'wdir'], `wdir: ${wdir.problem}`, wdir.instead, 'value');
    else if (wdir.path !== '.') out.wdir = wdir.path;
    const deps = this.deps(ctx, at, def.deps, wdirRaw);
    if (deps.length) out.deps = deps;
    const params = this.params(ctx, at, def.params, wdirRaw);
    if (params.length) out.params = params;
    const outs = translateOuts(this, ctx, at, def, wdirRaw);
    if (outs.outs.length) out.outs = outs.outs;
    if (outs.persist) out.persist = true;
    for (const flag of ['frozen', 'always_changed'] as const) {
      const v = this.value(ctx, [...at, flag], def[flag]);
      if (v === undefined || v === null) continue;
      if (typeof v !== 'boolean') throw this.src.error([...at, flag], `must be true or false, not ${typeName(v)}`);
      if (v) out[flag] = true;
    }
    if (def.meta !== undefined) this.drop([...at, 'meta'], '`meta`', 'dvcl keeps no stage metadata: put what matters in `desc` or in a YAML comment');
    this.stages.push({ name: this.nameOf(dvcName), from: dvcName, line: this.src.pos(at, 'key')?.line ?? null, def: out });
  }

  private cmd(ctx: VarContext, at: KeyPath, v: unknown): string | string[] {
    const value = this.value(ctx, at, v, { inCmd: true });
    const list = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(list) || list.some((c) => typeof c !== 'string')) throw this.src.error(at, `must be a command or a list of commands, not ${typeName(value)}`);
    if (list.some((c) => /\n./.test(c.trim()))) this.hints.add('a multi-line `cmd` runs with `set -e` in dvcl: it stops at the first failing line (DVC ran the lines on regardless)');
    const cmds = (list as string[]).map((c) => {
      // An escaped `\${name}` reached the shell in DVC; a lower-case one is a dvcl template, `${name-}` the same shell expansion.
      if (/\$\{[A-Za-z_][A-Za-z0-9_]*\.[^}]*\}/.test(c)) this.drop(at, `\`${c}\` holds a dotted \${…}, which is no shell expansion`, 'the command failed in DVC too: fix it', 'value');
      return c.replace(/\$\{([a-z_][a-z0-9_]*)\}/g, '${$1-}');
    });
    return cmds.length === 1 ? cmds[0] : cmds;
  }

  private deps(ctx: VarContext, at: KeyPath, v: unknown, wdir: string): string[] {
    const list = this.value(ctx, [...at, 'deps'], v);
    if (list === undefined || list === null) return [];
    if (!Array.isArray(list)) throw this.src.error([...at, 'deps'], `must be a list of paths, not ${typeName(list)}`);
    const deps: string[] = [];
    list.forEach((d, i) => {
      if (typeof d !== 'string') throw this.src.error([...at, 'deps', i], `must be a path, not ${typeName(d)}`);
      const p = this.place(d, wdir);
      if ('problem' in p) this.drop([...at, 'deps', i], p.problem, p.instead, 'value');
      else if (!deps.includes(p.path)) deps.push(p.path);
    });
    return deps;
  }

  private params(ctx: VarContext, at: KeyPath, v: unknown, wdir: string): unknown[] {
    const list = this.value(ctx, [...at, 'params'], v);
    if (list === undefined || list === null) return [];
    if (!Array.isArray(list)) throw this.src.error([...at, 'params'], `must be a list of keys or of {file: [keys]}, not ${typeName(list)}`);
    const files = new Map<string, string[] | null>();
    const add = (where: KeyPath, file: string, keys: string[] | null) => {
      if (/\.(toml|py)$/i.test(file)) return this.drop(where, `params file ${file} (dvcl reads YAML and JSON params files)`, `convert ${file} to YAML (or JSON) and name that file here`, 'key');
      const p = this.place(file, wdir);
      if ('problem' in p) return this.drop(where, `params file ${p.problem}`, p.instead, 'key');
      if (!files.has(p.path) && 'missing' in this.input.readFile(path.posix.join(wdir, file))) {
        this.hints.add(`params file ${p.path} does not exist: create it before \`dvcl repro\` (dvcl checks every listed key)`);
      }
      const have = files.get(p.path);
      if (have === null) return;
      files.set(p.path, keys === null ? null : [...(have ?? []), ...keys.filter((k) => !have?.includes(k))]);
    };
    list.forEach((e, i) => {
      if (typeof e === 'string') add([...at, 'params', i], 'params.yaml', [e]);
      else if (isObject(e)) {
        for (const [file, keys] of Object.entries(e)) {
          if (keys === null || (Array.isArray(keys) && keys.length === 0)) add([...at, 'params', i, file], file, null);
          else if (Array.isArray(keys) && keys.every((k) => typeof k === 'string')) add([...at, 'params', i, file], file, keys as string[]);
          else throw this.src.error([...at, 'params', i, file], 'must be a list of keys, or empty for the whole file');
        }
      } else throw this.src.error([...at, 'params', i], `must be a key or {file: [keys]}, not ${typeName(e)}`);
    });
    const refs: unknown[] = [];
    for (const [file, keys] of files) {
      if (file === 'params.yaml' && keys !== null) refs.push(...keys);
      else refs.push({ [file]: keys });
    }
    return refs;
  }

  private nameOf(dvcName: string): string {
    let name = dvcName.replace(/@/g, '-').replace(/[^A-Za-z0-9_-]/g, '_');
    if (this.names.has(name)) {
      let n = 2;
      while (this.names.has(`${name}-${n}`)) n++;
      name = `${name}-${n}`;
    }
    this.names.add(name);
    if (name !== dvcName) this.renamed.push(`${dvcName} → ${name}`);
    return name;
  }
}
