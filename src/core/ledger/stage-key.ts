import type { StageConfig } from '../pipeline.js';
import { canonicalText, sameValue } from '../util/exact.js';

export interface LockPath { path: string; hash: string; size: number; nfiles?: number }

export interface StageKey {
  cmd: string | string[];
  /** When not the root and not empty: part of what the command runs. */
  wdir?: string;
  env?: Record<string, string>;
  deps: LockPath[];
  params: Record<string, Record<string, unknown>>;
}

export type CommandKey = Pick<StageKey, 'cmd' | 'wdir' | 'env'>;

/** Folder and environment only when not the default (`wdir: .` is none). */
export function commandKey(stage: StageConfig): CommandKey {
  const key: CommandKey = { cmd: stage.cmd.length === 1 ? stage.cmd[0] : stage.cmd };
  if (stage.wdir !== '.') key.wdir = stage.wdir;
  if (Object.keys(stage.env).length) key.env = { ...stage.env };
  return key;
}

export function sameCommand(a: CommandKey, b: CommandKey): boolean {
  return sameValue(a.cmd, b.cmd) && (a.wdir ?? '.') === (b.wdir ?? '.') && sameValue(a.env ?? {}, b.env ?? {});
}

/** Items hold the hash of this text (`stage_hash`): changing it re-runs every item everywhere, so it never changes. */
export function stageKeyText(key: Omit<StageKey, 'deps'>, deps: [string, string | null][], out: string | undefined): string {
  return canonicalText({ cmd: key.cmd, wdir: key.wdir, env: key.env, deps, params: key.params, out })!;
}
