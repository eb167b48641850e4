import type { PipelineConfig, StageConfig } from '../core/pipeline.js';

export interface DagJson {
  nodes: { name: string; desc: string | null; per_item: boolean; cmd: string[]; deps: string[]; outs: string[]; params: string[]; foreach?: string[]; out?: string; frozen: boolean; always_changed: boolean }[];
  edges: { from: string; to: string; dep: string; out: string }[];
}

export function dagJson(cfg: PipelineConfig): DagJson {
  const byName = new Map(cfg.stages.map((s) => [s.name, s]));
  return {
    nodes: cfg.dag.order.map((n) => {
      const s = byName.get(n)!;
      return {
        name: s.name, desc: s.desc ?? null, per_item: Boolean(s.foreach), cmd: s.cmd, deps: s.deps,
        outs: s.out ? [s.out] : s.outs, params: s.params.map((p) => (p.file === cfg.paramsFile ? p.key : `${p.file}:${p.key}`)),
        ...(s.foreach ? { foreach: s.foreach, out: s.out } : {}), frozen: s.frozen, always_changed: s.always_changed,
      };
    }),
    edges: cfg.dag.edges.map(({ from, to, dep, out }) => ({ from, to, dep, out })),
  };
}

function pairs(cfg: PipelineConfig): [string, string][] {
  const seen = new Set<string>();
  const out: [string, string][] = [];
  for (const e of cfg.dag.edges) {
    const k = `${e.from}\0${e.to}`;
    if (!seen.has(k)) { seen.add(k); out.push([e.from, e.to]); }
  }
  return out;
}

function label(s: StageConfig): string {
  return s.foreach ? `${s.name} (per item)` : s.name;
}

/** One block per stage in dependency order: what it reads, writes, and feeds. */
export function dagText(cfg: PipelineConfig): string {
  if (cfg.stages.length === 0) return 'no stages in .pipelinerc';
  const byName = new Map(cfg.stages.map((s) => [s.name, s]));
  const lines: string[] = [];
  for (const n of cfg.dag.order) {
    const s = byName.get(n)!;
    const ups = [...cfg.dag.upstream.get(n)!];
    const downs = [...cfg.dag.downstream.get(n)!];
    lines.push(`${label(s)}${s.frozen ? ' [frozen]' : ''}${s.always_changed ? ' [always changed]' : ''}${s.desc ? `  — ${s.desc}` : ''}`);
    if (ups.length) lines.push(`  after: ${ups.join(', ')}`);
    if (s.foreach) lines.push(`  each:  ${s.foreach.join(', ')} → ${s.out}`);
    if (s.deps.length) lines.push(`  deps:  ${s.deps.join(', ')}`);
    if (s.outs.length) lines.push(`  outs:  ${s.outs.join(', ')}`);
    lines.push(downs.length ? `  └─▶ ${downs.join(', ')}` : '  └─ (end)');
  }
  return lines.join('\n');
}

export function dagMermaid(cfg: PipelineConfig): string {
  const id = new Map(cfg.dag.order.map((n, i) => [n, `s${i}`]));
  const byName = new Map(cfg.stages.map((s) => [s.name, s]));
  const lines = ['flowchart TD'];
  for (const n of cfg.dag.order) {
    const s = byName.get(n)!;
    const text = label(s).replace(/"/g, '#quot;');
    lines.push(s.foreach ? `  ${id.get(n)}[["${text}"]]` : `  ${id.get(n)}["${text}"]`);
  }
  for (const [a, b] of pairs(cfg)) lines.push(`  ${id.get(a)} --> ${id.get(b)}`);
  return lines.join('\n');
}

export function dagDot(cfg: PipelineConfig): string {
  const q = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;
  const byName = new Map(cfg.stages.map((s) => [s.name, s]));
  const lines = ['digraph dvcl {', '  rankdir=TB;', '  node [shape=box];'];
  for (const n of cfg.dag.order) lines.push(`  ${q(n)}${byName.get(n)!.foreach ? ' [shape=box3d]' : ''};`);
  for (const [a, b] of pairs(cfg)) lines.push(`  ${q(a)} -> ${q(b)};`);
  lines.push('}');
  return lines.join('\n');
}
