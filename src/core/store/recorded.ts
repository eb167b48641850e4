import type { PipelineConfig } from '../pipeline.js';
import { cmp, type LockData } from '../ledger/lock.js';
import type { ManifestData } from '../ledger/manifest.js';

/** A file, or a directory stored as its files plus its tree object. */
export type OutputKind = 'file' | 'dir';

/** An output whose content `pipeline.lock` or `.manifest.json` records: what push, pull, checkout and gc work on. */
export interface RecordedOutput {
  path: string;
  hash: string;
  /** Bytes (a directory: of its files); null for per-item outputs, whose size the manifest does not record. */
  size: number | null;
  kind: OutputKind;
  stage: string;
  /** A per-item stage's output: the item's input. */
  item?: string;
  nfiles?: number;
}

/** Every recorded out and successful item output of `stages` (default all), sorted by path. */
export function recordedOutputs(cfg: PipelineConfig, lock: LockData, manifest: ManifestData, stages?: readonly string[]): RecordedOutput[] {
  const names = stages && stages.length > 0 ? [...new Set(stages)] : cfg.stages.map((s) => s.name);
  const out: RecordedOutput[] = [];
  for (const stage of names) {
    for (const o of lock.stages[stage]?.outs ?? []) {
      const dir = o.nfiles !== undefined;
      out.push({ path: o.path, hash: o.hash, size: o.size, kind: dir ? 'dir' : 'file', stage, ...(dir ? { nfiles: o.nfiles } : {}) });
    }
    const items = manifest.stages[stage]?.items;
    if (!items) continue;
    for (const [item, rec] of Object.entries(items)) {
      if (rec.status !== 'success' || !rec.output || !rec.output_hash) continue;
      const dir = rec.output_nfiles !== undefined;
      out.push({ path: rec.output, hash: rec.output_hash, size: null, kind: dir ? 'dir' : 'file', stage, item, ...(dir ? { nfiles: rec.output_nfiles } : {}) });
    }
  }
  return out.sort((a, b) => cmp(a.path, b.path));
}

/** The stages whose outputs a command works on: the named ones, or all. */
export function stagesOf(cfg: PipelineConfig, targets: readonly string[]): string[] {
  return targets.length > 0 ? [...targets] : cfg.stages.map((s) => s.name);
}
