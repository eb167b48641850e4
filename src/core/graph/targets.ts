// graph/: what a command-line target names: a stage name, an out path (a file in a folder out, a
// per-item stage's item output), or with `glob` a pattern over stage names.
import path from 'node:path';
import picomatch from 'picomatch';
import type { PipelineConfig, StageConfig } from '../pipeline.js';
import { DvclError } from '../errors.js';
import { isInside, normalizeRelPath, relFromRoot } from '../util/paths.js';
import { closest } from '../template.js';
import { neighbourhood, stageOuts, subDag } from './dag.js';

export interface TargetOptions {
  /** `--glob`: each target is a picomatch pattern over stage names. */
  glob?: boolean;
  /** The folder the command runs in, relative to the project root (`.` at the root): out paths are relative to it. */
  prefix?: string;
}

/**
 * The stage names the targets address (see {@link resolveTargets}): every command taking stage
 * targets resolves them here, once. Out paths are relative to `cwd`.
 */
export function checkTargets(cfg: PipelineConfig, targets: readonly string[], opts: { cwd?: string; glob?: boolean } = {}): string[] {
  const prefix = opts.cwd === undefined ? '.' : relFromRoot(cfg.root, path.resolve(opts.cwd)) ?? '.';
  return resolveTargets(cfg.stages, targets, { glob: opts.glob, prefix });
}

/**
 * Stage names, deduplicated, in the order the targets name them. A stage name wins over an out
 * path that would name another stage. Unknown: `unknown_stage` (exit 2) with the closest name.
 */
export function resolveTargets(stages: readonly StageConfig[], targets: readonly string[], opts: TargetOptions = {}): string[] {
  const names = stages.map((s) => s.name);
  const found = new Set<string>();
  for (const t of targets) {
    if (names.includes(t)) { found.add(t); continue; }
    if (opts.glob) {
      const isMatch = picomatch(t);
      const matched = names.filter((n) => isMatch(n));
      if (matched.length === 0) {
        throw new DvclError('unknown_stage', `no stage matches the pattern "${t}"`, { suggestions: [names.length ? `stages: ${names.join(', ')}` : '.pipelinerc declares no stages'] });
      }
      for (const n of matched) found.add(n);
      continue;
    }
    const owner = stageOfPath(stages, t, opts.prefix ?? '.');
    if (owner) { found.add(owner); continue; }
    throw unknownTarget(t, stages, opts.prefix ?? '.');
  }
  return [...found];
}

/** The stage whose outs hold `target` (a path relative to `prefix`), if any: outs never overlap, so at most one. */
export function stageOfPath(stages: readonly StageConfig[], target: string, prefix = '.'): string | undefined {
  const norm = normalizeRelPath(path.posix.join(prefix, target.split(path.sep).join('/')));
  if ('error' in norm || norm.path === '.') return undefined;
  const p = norm.path;
  for (const s of stages) {
    for (const o of stageOuts(s)) {
      if (o.kind === 'path' ? isInside(p, o.path) : o.globs.some((g) => picomatch.isMatch(p, g))) return s.name;
    }
  }
  return undefined;
}

function unknownTarget(t: string, stages: readonly StageConfig[], prefix: string): DvclError {
  const names = stages.map((s) => s.name);
  // A target that looks like a path was meant as one: the closest out, not the closest name.
  if (/[/.\\]/.test(t)) {
    const outs = stages.flatMap((s) => (s.out ? [] : s.outs));
    const near = prefix === '.' ? closest(t, outs) : closest(path.posix.join(prefix, t), outs);
    return new DvclError('unknown_stage', `unknown stage "${t}": no stage has that name, and no stage's outs hold that path`, {
      suggestions: [near ? `did you mean "${near}"?` : 'dvcl dag lists every stage with its outs'],
    });
  }
  const near = closest(t, names);
  return new DvclError('unknown_stage', `unknown stage "${t}"`, {
    suggestions: [near ? `did you mean "${near}"?` : names.length ? `stages: ${names.join(', ')}` : '.pipelinerc declares no stages'],
  });
}

/** `dag STAGE`: the project as if it held only the targets' stages, their upstream and their downstream. */
export function focusConfig(cfg: PipelineConfig, targets: readonly string[], opts: { cwd?: string; glob?: boolean } = {}): PipelineConfig {
  if (targets.length === 0) return cfg;
  const keep = neighbourhood(cfg.dag, checkTargets(cfg, targets, opts));
  return { ...cfg, stages: cfg.stages.filter((s) => keep.includes(s.name)), dag: subDag(cfg.dag, keep) };
}
