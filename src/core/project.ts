import type { PipelineConfig } from './pipeline.js';
import type { Hasher } from './hashing/hash.js';
import type { LockData } from './ledger/lock.js';
import type { LockFile } from './ledger/lock-file.js';
import type { Manifest } from './ledger/manifest.js';

export interface Project {
  cfg: PipelineConfig;
  /** The lock as read, and its owner (which keeps `lock` current as it writes). */
  lock: LockData;
  lockFile: LockFile;
  manifest: Manifest;
  hasher: Hasher;
  stateDir: string;
}
