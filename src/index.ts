/**
 * dvcl as a library: the per-item ledger for Node scripts, and the pipeline runner.
 * @packageDocumentation
 */
export { Manifest, type LedgerOptions } from './core/services/script-ledger.js';
export { Manifest as ManifestStore, parseManifest, serializeManifest, type ItemRecord, type ItemStats, type ManifestData, type RunRecord, type StageRecord } from './core/ledger/manifest.js';
export { repro } from './core/services/repro.js';
export type { ReproOptions, ReproResult, StageResult, Reporter } from './core/run/types.js';
export { status } from './core/services/status.js';
export type { Reason, StageStatus, StatusReport, StageState } from './core/status/reasons.js';
export { prune, type PruneResult } from './core/services/prune.js';
export { push, type PushOptions } from './core/services/push.js';
export { pull, type PullOptions } from './core/services/pull.js';
export { checkout, type CheckoutOptions } from './core/services/checkout.js';
export { gc, type GcOptions, type GcResult } from './core/services/gc.js';
export { diff, paramsDiff, type DiffOptions, type DiffResult, type ParamsDiffResult } from './core/services/diff.js';
export type { TransferResult } from './core/services/sharing.js';
export { loadConfig, findRoot } from './core/config/load.js';
export type { Dag, PipelineConfig, Settings, StageConfig } from './core/pipeline.js';
export { selectStages } from './core/graph/dag.js';
export { Hasher } from './core/hashing/hash.js';
export { type HashAlgorithm } from './core/hashing/algorithms.js';
export { readLock, serializeLock, parseLock, type LockData, type LockEntry } from './core/ledger/lock.js';
export { DvclError, EXIT } from './core/errors.js';
