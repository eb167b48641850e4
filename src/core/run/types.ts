import type { Shard } from './shard.js';
import type { Evaluation } from '../status/status.js';
import type { Reason } from '../status/reasons.js';

export type StageOutcome = 'ran' | 'restored' | 'skipped' | 'failed' | 'not_run' | 'would_run';
export interface ItemCounts { total: number; ran: number; succeeded: number; failed: number; given_up: number; /** outputs placed from the run cache, not run */ restored?: number }
export interface StageResult {
  name: string; result: StageOutcome; reasons: Reason[]; duration_ms: number; error?: string; items?: ItemCounts;
  /** skipped because `frozen: true` */ frozen?: true;
  /** dry run: runs only if its upstream's outs change */ may_skip?: true;
  /** `restored`: where the outs came from (the run cache) */ restored_from?: 'local' | 'remote';
  /** per-item stage that dropped items: their outputs removed (dry run: to remove) */ removed_outputs?: string[];
  /** outputs kept because they are not the files dvcl recorded (a warning names each) */ kept_outputs?: string[];
}
export type StageRun = Omit<StageResult, 'name' | 'duration_ms'>;
export interface ReproResult { ok: boolean; interrupted?: NodeJS.Signals; run?: string; stages: StageResult[]; /** `--shard`: K/N */ shard?: string }

export interface Reporter {
  stageStart?(name: string, ev: Evaluation, items?: number): void;
  stageOutput?(name: string, stream: 'stdout' | 'stderr', line: string): void;
  stageEnd?(r: StageResult): void;
  itemDone?(stage: string, done: number, total: number, failed: number): void;
  warn?(msg: string): void;
  /** A line about the run itself (`repro --shard`'s resolved K/N). */
  info?(msg: string): void;
}

export interface ReproOptions {
  cwd: string;
  targets?: string[];
  /** `--glob`: targets are patterns over stage names. */
  glob?: boolean;
  /** `--pipeline`: the targets' whole pipelines (weakly connected components). */
  pipeline?: boolean;
  force?: boolean;
  single?: boolean;
  downstream?: boolean;
  dryRun?: boolean;
  jobs?: number;
  keepGoing?: boolean;
  /** `retry --only-failed`. */
  onlyFailed?: boolean;
  maxAttempts?: number;
  /** false (`--no-run-cache`): run stale stages even when a recorded run matches. */
  runCache?: boolean;
  /** `--pull`: fetch what the run needs from the remote, and look there for recorded runs. */
  pull?: boolean;
  /** `--shard K/N`: run one per-item stage's partition K of N, uploading what it records (see gather). */
  shard?: Shard;
  argv?: string[];
  reporter?: Reporter;
  /**
   * Aborting stops the run the orderly way (reason: the signal's name): SIGTERM, SIGKILL 3 s later.
   * The library installs no signal handlers: the CLI turns SIGINT, SIGTERM and SIGHUP into this.
   */
  signal?: AbortSignal;
  /** A second interrupt: running commands get SIGKILL at once. */
  forceSignal?: AbortSignal;
}
