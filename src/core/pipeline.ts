// The shapes every layer shares: a pipeline as `.pipelinerc` describes it, and its graph.
import type { HashAlgorithm } from './hashing/algorithms.js';

export interface Settings {
  jobs: number; hash: HashAlgorithm; max_attempts: number; shell: string;
  /** `settings.cache`: repro keeps each recorded out in `.dvcl/objects/` (default true). */
  cache?: boolean;
  /** `settings.run_cache`: repro restores stale stages from recorded runs (default true; `pull`: from the remote too). */
  run_cache?: boolean | 'pull';
}

export interface RemoteSettings {
  remote?: string;
  options?: { endpoint?: string; region?: string; pathStyle?: boolean; jobs?: number };
}
export interface ParamRef { file: string; key: string }

export interface StageConfig {
  name: string;
  desc?: string;
  cmd: string[];
  deps: string[];
  params: ParamRef[];
  outs: string[];
  env: Record<string, string>;
  wdir: string;
  persist: boolean;
  frozen: boolean;
  always_changed: boolean;
  foreach?: string[];
  out?: string;
}

export interface PipelineConfig {
  root: string;
  settings: Settings;
  paramsFile: string;
  stages: StageConfig[];
  params: Record<string, Record<string, unknown>>;
  dag: Dag;
  /** The remote each file names, kept apart: the local file's options go over the shared ones whichever source names the URL. */
  remote?: { shared: RemoteSettings; local: RemoteSettings };
}

export interface Edge { from: string; to: string; dep: string; out: string }

export interface Dag {
  /** Among independent stages, declaration order. */
  order: string[];
  edges: Edge[];
  upstream: Map<string, Set<string>>;
  downstream: Map<string, Set<string>>;
}
