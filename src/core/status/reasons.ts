// The vocabulary of staleness (SPEC §4): why a stage or an item is not up to date.
import type { ItemStats } from '../ledger/manifest.js';

/** The codes are stable: scripts match on them. */
export type Reason =
  | { code: 'never_run' }
  | { code: 'cmd_changed' }
  | { code: 'dep_changed'; path: string; old: string | null; new: string | null }
  | { code: 'dep_missing'; path: string }
  | { code: 'param_changed'; file: string; key: string; old: unknown; new: unknown }
  | { code: 'out_missing'; path: string; /** git ignores it: a fresh clone never has it */ ignored?: true; /** in the local cache or known to be on the remote (services/restorable.ts) */ restorable?: true }
  | { code: 'out_changed'; path: string; old: string | null; new: string | null }
  | { code: 'upstream_stale'; stage: string }
  | { code: 'always_changed' }
  | { code: 'items_pending'; count: number; /** of them, items pending only because their recorded output is missing */ outputs_missing?: number; restorable?: true }
  | { code: 'items_failed'; count: number; given_up?: number }
  /** recorded items whose input is gone (deleted, renamed, unmatched): repro drops them and their outputs */
  | { code: 'items_dropped'; count: number }
  | { code: 'last_run_failed'; reason: string }
  | { code: 'forced' };

export type ReasonCode = Reason['code'];

export type StageState = 'up_to_date' | 'stale' | 'failed' | 'frozen';

export interface SkippedInput { path: string; reason: 'name_not_utf8' }

export interface StageStatus { name: string; state: StageState; reasons: Reason[]; items?: ItemStats; skipped?: SkippedInput[]; unmatched_globs?: string[]; failed_items?: FailedItem[] }

export interface FailedItem { item: string; reason: string; attempts: number; given_up: boolean }
export const FAILED_ITEMS_KEPT = 1000;

export type ItemRunReason = 'new' | 'changed' | 'stage_changed' | 'output_missing' | 'output_changed' | 'failed' | 'forced';

export interface StatusReport { up_to_date: boolean; stages: StageStatus[] }
