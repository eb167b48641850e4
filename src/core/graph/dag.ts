// graph/: the stages as a DAG: edges inferred from deps and outs, cycles, selection.
import path from 'node:path';
import picomatch from 'picomatch';
import type { Dag, Edge, StageConfig } from '../pipeline.js';
import { globBase, isGlob, isInside, overlaps } from '../util/paths.js';
import { itemVars, templateBase } from '../template.js';


/** Located by stage and key; config turns it into file:line:col. */
export interface WiringProblem { stage: string; key: 'deps' | 'outs' | 'out' | 'foreach'; index?: number; message: string; hint?: string }

type Out = { kind: 'path'; path: string } | { kind: 'template'; tpl: string; base: string; globs: string[] };
type In = { kind: 'path'; path: string; key: 'deps' | 'foreach'; index: number } | { kind: 'glob'; glob: string; base: string; index: number };

export function stageOuts(s: StageConfig): Out[] {
  if (s.out) {
    // One glob per foreach glob (`${dir}/${stem}.json` over `raw/*.html` is `raw/*.json`), so a
    // template starting with `${dir}` does not claim the whole project.
    const globs = (s.foreach ?? []).map((g) => itemVars(g, s.out!).out);
    return [{ kind: 'template', tpl: s.out, base: templateBase(s.out), globs }];
  }
  return s.outs.map((p) => ({ kind: 'path', path: p }));
}

function stageIns(s: StageConfig): In[] {
  const ins: In[] = s.deps.map((p, index) => ({ kind: 'path', path: p, key: 'deps', index }));
  (s.foreach ?? []).forEach((g, index) => {
    ins.push(isGlob(g) ? { kind: 'glob', glob: g, base: globBase(g), index } : { kind: 'path', path: g, key: 'foreach', index });
  });
  return ins;
}

function outLabel(o: Out): string {
  return o.kind === 'path' ? o.path : o.tpl;
}

/** By whole components (`data/features.csv` is not in `data/features`): 'prefix' when `p` can hold matches. */
function reach(glob: string, p: string): 'full' | 'prefix' | 'none' {
  if (p === '.') return 'prefix';
  const gs = glob.split('/');
  const ps = p.split('/');
  for (let k = 0; k < ps.length; k++) {
    if (gs[k] === '**') return picomatch.isMatch(p, glob) ? 'full' : 'prefix';
    if (k >= gs.length || !picomatch.isMatch(ps[k], gs[k])) return 'none';
  }
  return ps.length === gs.length ? 'full' : 'prefix';
}

function sample(glob: string): string {
  return glob.replace(/\{([^,}]*)[^}]*\}/g, '$1').replace(/\[[!^][^\]]*\]/g, '_').replace(/\[([^\]])[^\]]*\]/g, '$1').replace(/\*\*|\*|\?/g, 'x');
}

/** Checked on a sample of each: good enough for folder layouts. */
function globsMeet(a: string, b: string): boolean {
  if (!overlaps(globBase(a), globBase(b))) return false;
  return picomatch.isMatch(sample(b), a) || picomatch.isMatch(sample(a), b);
}

/** A string instead of true when `i` lies where `o` writes its items but `o` never produces it. */
function touches(i: In, o: Out): boolean | string {
  if (i.kind === 'glob') {
    if (o.kind === 'path') return isInside(i.base, o.path) || reach(i.glob, o.path) !== 'none';
    return o.globs.some((g) => globsMeet(i.glob, g));
  }
  const ip = i.path;
  if (o.kind === 'path') return overlaps(ip, o.path);
  if (isInside(o.base, ip) || o.globs.some((g) => reach(g, ip) !== 'none')) return true;
  const dir = path.posix.dirname(ip);
  if (o.base !== '.' && isInside(ip, o.base) && o.globs.some((g) => picomatch.isMatch(dir, path.posix.dirname(g)))) {
    return `${ip} lies among the per-item outputs ${o.tpl}, which never produce it`;
  }
  return false;
}

function outsClash(a: Out, b: Out): boolean {
  if (a.kind === 'path' && b.kind === 'path') return overlaps(a.path, b.path);
  if (a.kind === 'template' && b.kind === 'template') return a.globs.some((g) => b.globs.some((h) => globsMeet(g, h)));
  const [p, t] = a.kind === 'path' ? [a, b as Extract<Out, { kind: 'template' }>] : [b as Extract<Out, { kind: 'path' }>, a];
  return isInside(t.base, p.path) || t.globs.some((g) => reach(g, p.path) !== 'none');
}

export function inferEdges(stages: StageConfig[]): { edges: Edge[]; problems: WiringProblem[] } {
  const edges: Edge[] = [];
  const problems: WiringProblem[] = [];
  const outs = stages.map(stageOuts);
  stages.forEach((a, ai) => {
    outs[ai].forEach((oa, oi) => {
      outs[ai].forEach((ob, oj) => {
        if (oj > oi && outsClash(oa, ob)) problems.push({ stage: a.name, key: 'outs', index: oj, message: `${outLabel(ob)} overlaps ${outLabel(oa)} of the same stage` });
      });
      for (let bi = ai + 1; bi < stages.length; bi++) {
        outs[bi].forEach((ob, oj) => {
          if (outsClash(oa, ob)) {
            const b = stages[bi];
            problems.push({ stage: b.name, key: b.out ? 'out' : 'outs', index: b.out ? undefined : oj, message: `${outLabel(ob)} overlaps ${outLabel(oa)}, an output of stage ${a.name}`, hint: 'two stages cannot write the same files; give each its own output folder' });
          }
        });
      }
    });
  });
  for (const b of stages) {
    for (const i of stageIns(b)) {
      const key = i.kind === 'glob' ? 'foreach' : i.key;
      let produced = false;
      let stray: WiringProblem | undefined;
      stages.forEach((a, ai) => {
        for (const o of outs[ai]) {
          const t = touches(i, o);
          if (typeof t === 'string') stray ??= { stage: b.name, key, index: i.index, message: t, hint: `stage ${a.name} writes ${outLabel(o)}` };
          else if (t) {
            produced = true;
            edges.push({ from: a.name, to: b.name, dep: i.kind === 'path' ? i.path : i.glob, out: outLabel(o) });
          }
        }
      });
      // Another stage producing the path makes it legitimate (two per-item stages may share a folder).
      if (stray && !produced) problems.push(stray);
    }
  }
  return { edges, problems };
}

export function buildDag(stages: StageConfig[], edges: Edge[]): Dag | { cycle: string[] } {
  const names = stages.map((s) => s.name);
  const upstream = new Map(names.map((n) => [n, new Set<string>()]));
  const downstream = new Map(names.map((n) => [n, new Set<string>()]));
  for (const e of edges) {
    if (e.from === e.to) return { cycle: [e.from, e.from] };
    upstream.get(e.to)!.add(e.from);
    downstream.get(e.from)!.add(e.to);
  }
  const indeg = new Map(names.map((n) => [n, upstream.get(n)!.size]));
  const order: string[] = [];
  const done = new Set<string>();
  while (order.length < names.length) {
    const next = names.find((n) => !done.has(n) && indeg.get(n) === 0);
    if (next === undefined) return { cycle: findCycle(names.filter((n) => !done.has(n)), upstream) };
    order.push(next);
    done.add(next);
    for (const d of downstream.get(next)!) indeg.set(d, indeg.get(d)! - 1);
  }
  return { order, edges, upstream, downstream };
}

function findCycle(remaining: string[], upstream: Map<string, Set<string>>): string[] {
  const left = new Set(remaining);
  const path: string[] = [];
  const onPath = new Set<string>();
  let cur = remaining[0];
  // Every remaining node has an upstream node among the remaining ones: walk until one repeats.
  while (!onPath.has(cur)) {
    path.push(cur);
    onPath.add(cur);
    cur = [...upstream.get(cur)!].find((u) => left.has(u))!;
  }
  const cycle = path.slice(path.indexOf(cur));
  cycle.reverse();
  return [...cycle, cycle[0]];
}

/**
 * `frozen`: stages whose upstream is not walked into (as DVC cuts a frozen stage off its deps).
 * `pipeline`: the targets' whole pipelines instead (see {@link pipelineOf}).
 */
export interface Selection { single?: boolean; downstream?: boolean; pipeline?: boolean; frozen?: ReadonlySet<string> }

export function selectStages(dag: Dag, targets: string[], sel: Selection = {}): string[] {
  if (targets.length === 0) return [...dag.order];
  if (sel.pipeline) return pipelineOf(dag, targets);
  const chosen = new Set<string>(targets);
  if (!sel.single) {
    const links = sel.downstream ? dag.downstream : dag.upstream;
    const stack = [...targets];
    while (stack.length) {
      const at = stack.pop()!;
      if (!sel.downstream && sel.frozen?.has(at)) continue;
      for (const n of links.get(at)!) if (!chosen.has(n)) { chosen.add(n); stack.push(n); }
    }
  }
  return dag.order.filter((n) => chosen.has(n));
}

/** `dag STAGE`: the targets, everything upstream and everything downstream of them (not their other branches), in run order. */
export function neighbourhood(dag: Dag, targets: readonly string[]): string[] {
  const chosen = new Set(targets);
  for (const links of [dag.upstream, dag.downstream]) {
    const stack = [...targets];
    const seen = new Set(targets);
    while (stack.length) {
      for (const n of links.get(stack.pop()!)!) if (!seen.has(n)) { seen.add(n); chosen.add(n); stack.push(n); }
    }
  }
  return dag.order.filter((n) => chosen.has(n));
}

/** `repro --pipeline`: every stage linked to a target through deps and outs in either direction (its weakly connected component). */
export function pipelineOf(dag: Dag, targets: readonly string[]): string[] {
  const chosen = new Set(targets);
  const stack = [...targets];
  while (stack.length) {
    const at = stack.pop()!;
    for (const n of [...dag.upstream.get(at)!, ...dag.downstream.get(at)!]) if (!chosen.has(n)) { chosen.add(n); stack.push(n); }
  }
  return dag.order.filter((n) => chosen.has(n));
}

/** The graph of `names` alone: edges and links to other stages dropped. */
export function subDag(dag: Dag, names: readonly string[]): Dag {
  const keep = new Set(names);
  const only = (m: Map<string, Set<string>>) => new Map([...m].filter(([n]) => keep.has(n)).map(([n, l]) => [n, new Set([...l].filter((x) => keep.has(x)))]));
  return { order: dag.order.filter((n) => keep.has(n)), edges: dag.edges.filter((e) => keep.has(e.from) && keep.has(e.to)), upstream: only(dag.upstream), downstream: only(dag.downstream) };
}

/** Stages on the longest path from each stage to a sink: long chains are scheduled first. */
export function chainLengths(dag: Dag): Map<string, number> {
  const len = new Map<string, number>();
  for (const n of [...dag.order].reverse()) {
    let best = 0;
    for (const d of dag.downstream.get(n)!) best = Math.max(best, len.get(d)!);
    len.set(n, best + 1);
  }
  return len;
}

export function globMatcher(globs: string[]): (p: string) => boolean {
  return picomatch(globs, { dot: false });
}
