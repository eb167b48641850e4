import fs from 'node:fs';
import type { Project } from '../project.js';
import type { Reason, StatusReport } from '../status/reasons.js';
import { LocalCache } from '../store/local-cache.js';
import { configuredRemote, RemoteIndex, remoteBase, remoteId } from '../store/remote-index.js';
import { abs } from '../util/paths.js';

type OutMissing = Extract<Reason, { code: 'out_missing' }>;
type ItemsPending = Extract<Reason, { code: 'items_pending' }>;

/** `restorable`: the recorded content is in the local cache or the remote's index, so checkout or pull brings it back without a run. */
export function markRestorable(p: Project, report: StatusReport): void {
  const missing = report.stages.flatMap((s) => s.reasons.filter((r): r is OutMissing => r.code === 'out_missing').map((r) => ({ stage: s.name, r })));
  const pending = report.stages.flatMap((s) => s.reasons.filter((r): r is ItemsPending => r.code === 'items_pending' && (r.outputs_missing ?? 0) > 0).map((r) => ({ stage: s.name, r })));
  if (missing.length === 0 && pending.length === 0) return;
  const cache = LocalCache.of(p.stateDir);
  let index: RemoteIndex | null | undefined;
  const known = (hash: string): boolean => {
    if (cache.has(hash)) return true;
    if (index === undefined) {
      try {
        const remote = configuredRemote(p.cfg);
        index = remote ? RemoteIndex.load(p.stateDir, remoteId(remote, remoteBase(remote, p.cfg.root))) : null;
      } catch {
        index = null; // a DVCL_REMOTE dvcl cannot use: push and pull say so; status only hints
      }
    }
    return index?.has(hash) ?? false;
  };
  for (const { stage, r } of missing) {
    const hash = p.lock.stages[stage]?.outs.find((o) => o.path === r.path)?.hash;
    if (hash && known(hash)) r.restorable = true;
  }
  for (const { stage, r } of pending) {
    // Only when the items pending are all ones whose output is missing, and every missing output can come back.
    if (r.outputs_missing !== r.count) continue;
    const items = Object.values(p.manifest.stage(stage)?.items ?? {});
    const gone = items.filter((i) => i.status === 'success' && i.output && i.output_hash && !fs.existsSync(abs(p.cfg.root, i.output)));
    if (gone.every((i) => known(i.output_hash!))) r.restorable = true;
  }
}

/** `status --allow-missing` (DVC's): the stages stale only by recorded outputs missing here, and what follows from them. */
export function missingOnly(p: Project, report: StatusReport): string[] {
  const allowed = new Set<string>();
  for (const st of report.stages) {
    if (st.state !== 'stale' || st.reasons.length === 0) continue;
    const entry = p.lock.stages[st.name];
    const fromAllowed = (dep: string) => p.cfg.dag.edges.some((e) => e.to === st.name && e.dep === dep && allowed.has(e.from));
    const ok = st.reasons.every((r) => {
      switch (r.code) {
        case 'out_missing': return entry?.outs.some((o) => o.path === r.path) ?? false;
        case 'items_pending': return r.outputs_missing === r.count;
        case 'upstream_stale': return allowed.has(r.stage);
        case 'dep_changed': return r.new === null && fromAllowed(r.path);
        default: return false;
      }
    });
    if (ok) allowed.add(st.name);
  }
  return [...allowed];
}
