import type { StageConfig } from '../pipeline.js';
import { canonicalText, sameValue } from '../util/exact.js';

/** A dep or out as the lock records it. `nfiles` only for directories. */
export interface LockPath { path: string; hash: string; size: number; nfiles?: number }

/**
 * Everything a stage's result depends on, as its lock entry records it: the command with its
 * folder and environment, the deps' hashes and the params' values. Status compares it with the
 * present one; a per-item stage's items carry the hash of its canonical text.
 */
export interface StageKey {
  cmd: string | string[];
  /** The command's folder and environment, when not the root and not empty: part of what it runs. */
  wdir?: string;
  env?: Record<string, string>;
  deps: LockPath[];
  params: Record<string, Record<string, unknown>>;
}

export type CommandKey = Pick<StageKey, 'cmd' | 'wdir' | 'env'>;

/** What a stage runs: its command, and its folder and environment when not the default (`wdir: .` is none). */
export function commandKey(stage: StageConfig): CommandKey {
  const key: CommandKey = { cmd: stage.cmd.length === 1 ? stage.cmd[0] : stage.cmd };
  if (stage.wdir !== '.') key.wdir = stage.wdir;
  if (Object.keys(stage.env).length) key.env = { ...stage.env };
  return key;
}

/** The same command in the same folder with the same environment. */
export function sameCommand(a: CommandKey, b: CommandKey): boolean {
  return sameValue(a.cmd, b.cmd) && (a.wdir ?? '.') === (b.wdir ?? '.') && sameValue(a.env ?? {}, b.env ?? {});
}

/**
 * The canonical text of a per-item stage's key, with its deps' hashes of one algorithm and its
 * output template: item records hold the hash of it (`stage_hash`). Changing this text re-runs
 * every item of every project, so it stays what it has been.
 */
export function stageKeyText(key: Omit<StageKey, 'deps'>, deps: [string, string | null][], out: string | undefined): string {
  return canonicalText({ cmd: key.cmd, wdir: key.wdir, env: key.env, deps, params: key.params, out })!;
}
