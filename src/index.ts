/**
 * dvcl as a library: the per-item ledger for Node scripts, and the pipeline runner.
 * @packageDocumentation
 */
export { Manifest, type LedgerOptions } from './core/ledger.js';
export { Manifest as ManifestStore, parseManifest, serializeManifest, type ItemRecord, type ItemStats, type ManifestData, type RunRecord, type StageRecord } from './core/manifest.js';
export { repro, type ReproOptions, type ReproResult, type StageResult, type Reporter } from './core/runner.js';
export { status } from './core/status-command.js';
export type { Reason, StageStatus, StatusReport, StageState } from './core/status.js';
export { prune, type PruneResult } from './core/prune.js';
export { loadConfig, findRoot, type PipelineConfig, type StageConfig, type Settings } from './core/config.js';
export { selectStages, type Dag } from './core/dag.js';
export { Hasher, type HashAlgorithm } from './core/hash.js';
export { readLock, serializeLock, parseLock, type LockData, type LockEntry } from './core/lock.js';
export { DvclError, EXIT } from './core/errors.js';
