// A DVC stage's `outs`, `metrics` and `plots`: all three are plain outs in dvcl; their options map
// to the stage (`persist`) or are reported.
import { isObject, typeName } from '../config/fields.js';
import type { KeyPath, YamlSource } from '../config/yaml-source.js';
import type { VarContext } from './dvc-vars.js';

/** What of the translator the outs need (dvc.ts's Translator): an interface, so the two modules import no circle. */
export interface OutsContext {
  readonly src: YamlSource;
  readonly hints: Set<string>;
  readonly cachedOuts: string[];
  readonly uncachedOuts: string[];
  value(ctx: VarContext, at: KeyPath, v: unknown): unknown;
  place(p: string, wdir: string): { path: string } | { problem: string; instead: string };
  drop(at: KeyPath, message: string, instead: string, which?: 'key' | 'value'): void;
}

const PLOT_PROPS = ['template', 'x', 'y', 'x_label', 'y_label', 'title', 'header'];
const ANNOTATIONS = ['desc', 'type', 'labels', 'meta'];

export function translateOuts(t: OutsContext, ctx: VarContext, at: KeyPath, def: Record<string, unknown>, wdir: string): { outs: string[]; persist: boolean } {
  const outs: string[] = [];
  const persisted: { path: string; at: KeyPath }[] = [];
  for (const section of ['outs', 'metrics', 'plots'] as const) {
    const list = t.value(ctx, [...at, section], def[section]);
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) throw t.src.error([...at, section], `must be a list of paths, not ${typeName(list)}`);
    if (section !== 'outs' && list.length) {
      t.hints.add('`metrics` and `plots` files are plain outs in dvcl: it has no `metrics show` or `plots show`; read them with your own tools');
    }
    list.forEach((entry, i) => {
      const where: KeyPath = [...at, section, i];
      let file: unknown = entry;
      let opts: Record<string, unknown> = {};
      if (isObject(entry)) {
        const keys = Object.keys(entry);
        if (keys.length !== 1) throw t.src.error(where, 'an out with options is a mapping of one path to its options');
        file = keys[0];
        const o = entry[keys[0]];
        // A plot may list several sets of properties; what matters here is which keys they use.
        const sets = Array.isArray(o) ? o : [o];
        for (const s of sets) if (isObject(s)) opts = { ...opts, ...s };
        else if (s !== null && s !== undefined) throw t.src.error([...where, keys[0]], `must be a mapping of options, not ${typeName(s)}`);
      }
      if (typeof file !== 'string') throw t.src.error(where, `must be a path, not ${typeName(file)}`);
      const p = t.place(file, wdir);
      if ('problem' in p) return t.drop(where, p.problem, p.instead, 'value');
      if (!outs.includes(p.path)) outs.push(p.path);
      const optAt = isObject(entry) ? [...where, file] : where;
      options(t, optAt, p.path, section, opts);
      if (opts.cache === false) t.uncachedOuts.push(p.path);
      else t.cachedOuts.push(p.path);
      if (opts.persist === true) persisted.push({ path: p.path, at: optAt });
    });
  }
  const persist = persisted.length > 0;
  const others = outs.filter((o) => !persisted.some((p) => p.path === o));
  if (persist && others.length) {
    t.drop([...persisted[0].at, 'persist'], `\`persist: true\` on ${persisted.map((p) => p.path).join(', ')} only`,
      `dvcl's \`persist\` is per stage: ${others.join(', ')} now survive a run too (nothing removes them before the command); split the stage if that matters`);
  }
  return { outs, persist };
}

function options(t: OutsContext, at: KeyPath, file: string, section: string, opts: Record<string, unknown>): void {
  let plotted = false;
  for (const [k, v] of Object.entries(opts)) {
    const where = [...at, k];
    if (k === 'cache' || k === 'persist') {
      if (typeof v !== 'boolean') throw t.src.error(where, `must be true or false, not ${typeName(v)}`);
    } else if (k === 'checkpoint') {
      if (v === true) t.drop(where, `\`checkpoint: true\` of ${file}`, 'dvcl has no checkpoints (DVC dropped them in 3.0): it is a plain out; to resume training, keep the checkpoint in a `persist: true` stage');
    } else if (k === 'push') {
      if (v === false) t.drop(where, `\`push: false\` of ${file}`, '`dvcl push` uploads every recorded out: to keep this one off the remote, make it no out (delete it at the end of the command) or accept it uploaded');
    } else if (k === 'remote') {
      t.drop(where, `\`remote: ${String(v)}\` of ${file}`, 'dvcl has one remote per project (`settings.remote`): every out goes there');
    } else if (ANNOTATIONS.includes(k)) {
      t.drop(where, `\`${k}\` of ${file}`, "dvcl keeps no annotations on outs: put it in the stage's `desc` or in a YAML comment");
    } else if (PLOT_PROPS.includes(k) && section === 'plots') {
      if (!plotted) t.drop(where, `the plot properties of ${file}`, 'dvcl draws no plots: the file is an out; plot it with your own tools (or keep `dvc plots show` for display)');
      plotted = true;
    } else {
      t.drop(where, `unknown out option "${k}" of ${file}`, 'remove it');
    }
  }
}
