// What the staleness decision needs to know of the files, gathered first: hashes, through the stat cache.
import type { PipelineConfig, StageConfig } from '../pipeline.js';
import type { Hasher } from '../hashing/hash.js';
import { cmp, type LockEntry, type LockPath } from '../ledger/lock.js';
import { commandKey, stageKeyText } from '../ledger/stage-key.js';
import type { StageFacts } from './decide.js';

/** A missing dep is listed, not thrown; each recorded hash is compared in its own algorithm (Hasher.for). */
export function stageFacts(cfg: PipelineConfig, hasher: Hasher, stage: StageConfig, entry: LockEntry | undefined): StageFacts {
  const deps: LockPath[] = [];
  const missing: string[] = [];
  for (const p of stage.deps) {
    const h = hasher.hash(p);
    if (!h) { missing.push(p); continue; }
    deps.push({ path: p, hash: h.hash, size: h.size, ...(h.isDir ? { nfiles: h.nfiles ?? 0 } : {}) });
  }
  deps.sort((a, b) => cmp(a.path, b.path));
  const params: Record<string, Record<string, unknown>> = Object.create(null);
  for (const ref of stage.params) (params[ref.file] ??= Object.create(null))[ref.key] = cfg.params[ref.file]?.[ref.key];
  const depsAsRecorded = new Map<string, string | null>();
  const outs = new Map<string, string | null>();
  if (entry && !stage.frozen) {
    const recorded = new Map(entry.deps.map((d) => [d.path, d.hash]));
    for (const d of deps) {
      const h = hasher.for(recorded.get(d.path));
      if (h !== hasher) depsAsRecorded.set(d.path, h.hash(d.path)?.hash ?? null);
    }
    if (!stage.foreach) {
      const old = new Map(entry.outs.map((o) => [o.path, o.hash]));
      for (const p of stage.outs) outs.set(p, hasher.for(old.get(p)).hash(p)?.hash ?? null);
    }
  }
  return { key: { ...commandKey(stage), deps, params }, missing, depsAsRecorded, outs };
}

/** One item record written before settings.hash changed holds its deps' hashes of that algorithm. */
export function stageHashes(hasher: Hasher, stage: StageConfig, facts: StageFacts): { configured: string; with(h: Hasher): string; all(): string[] } {
  const text = (deps: [string, string | null][]) => stageKeyText(facts.key, deps, stage.out);
  const configured = hasher.hashString(text(facts.key.deps.map((d) => [d.path, d.hash])));
  const byHasher = new Map<Hasher, string>([[hasher, configured]]);
  return {
    configured,
    with: (h) => {
      let sh = byHasher.get(h);
      if (sh === undefined) byHasher.set(h, (sh = h.hashString(text(facts.key.deps.map((d) => [d.path, h.hash(d.path)?.hash ?? null])))));
      return sh;
    },
    all: () => [...byHasher.values()],
  };
}
