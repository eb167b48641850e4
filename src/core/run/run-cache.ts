// repro's use of the run cache: restoring a stale stage (or item output) from a recorded run, and
// recording a run. The remote is opened (and the AWS SDK loaded) only when a lookup needs it.
import type { StageConfig } from '../pipeline.js';
import { oneLine } from '../errors.js';
import type { LockPath } from '../ledger/lock.js';
import type { Project } from '../project.js';
import type { Evaluation } from '../status/status.js';
import { LocalCache } from '../store/local-cache.js';
import type { ObjectStore } from '../store/object-store.js';
import type { RecordedOutput } from '../store/recorded.js';
import { configuredRemote, remoteBase } from '../store/remote-index.js';
import { ContentHasher, placeFromCache, placeLink, planRestore, removePlanned } from '../store/restore.js';
import { itemRunKey, itemsEntryText, itemsRemoteKey, LocalRuns, parseItemsEntry, parseRunEntry, runEntryText, runKey, runRemoteKey } from '../store/run-cache.js';
import { parseTree } from '../store/tree.js';

export { itemRunKey };

export type RestoredFrom = 'local' | 'remote';

/** off: never restore; local: from `.dvcl/` only; remote: the remote too (`--pull`, `settings.run_cache: pull`). */
export type RunCacheMode = 'off' | 'local' | 'remote';

export class RunCache {
  readonly runs: LocalRuns;
  readonly itemRuns: LocalRuns;
  readonly objects: LocalCache;
  private store: Promise<ObjectStore | null> | undefined;
  private unusable = false;
  private readonly hasher = new ContentHasher();

  constructor(private readonly p: Project, readonly mode: RunCacheMode, private readonly warn: (m: string) => void) {
    this.runs = LocalRuns.of(p.stateDir);
    this.itemRuns = LocalRuns.items(p.stateDir);
    this.objects = LocalCache.of(p.stateDir);
  }

  /** Stages whose result is not a function of their key are neither recorded nor restored. */
  static eligible(stage: StageConfig): boolean {
    return !stage.always_changed && !stage.persist && !stage.foreach && stage.outs.length > 0;
  }

  /** After a successful run: record it, unless a dep changed while the command ran (the outs may be of either version). */
  record(stage: StageConfig, ev: Evaluation, outs: LockPath[]): void {
    if (!RunCache.eligible(stage) || ev.inputs.missing.length) return;
    for (const d of ev.inputs.deps) if (this.p.hasher.for(d.hash).hash(d.path)?.hash !== d.hash) return;
    try {
      this.runs.write(runKey(this.p.hasher, ev.inputs), runEntryText(outs));
    } catch (e) {
      this.warn(oneLine(`cannot record ${stage.name} in the run cache .dvcl/runs/ (${(e as Error).message}); the run goes on`));
    }
  }

  /**
   * Place a stale stage's outs from the entry of its key, when every object is at hand (locally, or
   * with mode `remote` fetched and verified first), no file of the user's is in the way, and the
   * placed outs hash as recorded. Returns the outs and where they came from, or null: then it runs.
   */
  async restore(stage: StageConfig, ev: Evaluation): Promise<{ outs: LockPath[]; from: RestoredFrom } | null> {
    if (this.mode === 'off' || !RunCache.eligible(stage) || ev.inputs.missing.length) return null;
    const key = runKey(this.p.hasher, ev.inputs);
    let from: RestoredFrom = 'local';
    let text = this.runs.read(key);
    let entry = text === null ? null : parseRunEntry(text, stage.outs);
    if (text !== null && entry === null) {
      this.warn(`${stage.name}: run cache entry ${this.runs.file(key)} is not a valid entry for this stage: ignored, the stage runs`);
      this.runs.remove(key);
    }
    if (!entry && this.mode === 'remote') {
      text = await this.fetchText(runRemoteKey(key));
      entry = text === null ? null : parseRunEntry(text, stage.outs);
      if (text !== null && entry === null) this.warn(`${stage.name}: the remote's run cache entry for this stage is not valid: ignored, the stage runs`);
      if (!entry) return null;
      from = 'remote';
      this.runs.write(key, text!);
    }
    if (!entry) return null;
    const outputs: RecordedOutput[] = entry.outs.map((o) => ({ path: o.path, hash: o.hash, size: o.size, kind: o.nfiles !== undefined ? 'dir' : 'file', stage: stage.name, ...(o.nfiles !== undefined ? { nfiles: o.nfiles } : {}) }));
    if (await this.gather(outputs)) from = 'remote';
    if (!this.allLocal(outputs)) return null;
    if (!(await this.place(outputs))) return null;
    for (const o of entry.outs) if (this.p.hasher.for(o.hash).hash(o.path)?.hash !== o.hash) return null;
    return { outs: entry.outs, from };
  }

  /** After a per-item stage's items ran: add their ((item, input hash) → output hash) pairs to its key's record, unless a shared dep changed meanwhile. */
  recordItems(stage: StageConfig, ev: Evaluation, pairs: ReadonlyMap<string, string>): void {
    if (pairs.size === 0 || ev.inputs.missing.length) return;
    for (const d of ev.inputs.deps) if (this.p.hasher.for(d.hash).hash(d.path)?.hash !== d.hash) return;
    const key = ev.items!.stageHash;
    const text = this.itemRuns.read(key);
    const merged = new Map([...(text === null ? [] : parseItemsEntry(text) ?? []), ...pairs]);
    try {
      this.itemRuns.write(key, itemsEntryText(merged));
    } catch (e) {
      this.warn(oneLine(`cannot record ${stage.name}'s items in the run cache .dvcl/runs/ (${(e as Error).message}); the run goes on`));
    }
  }

  /** The recorded ((item, input hash) → output hash) pairs (keyed by itemRunKey) of a per-item stage's present key: here, and with mode `remote` the remote's too. */
  async itemOutputs(stage: StageConfig, stageHash: string): Promise<Map<string, string>> {
    if (this.mode === 'off') return new Map();
    const text = this.itemRuns.read(stageHash);
    let pairs = text === null ? null : parseItemsEntry(text);
    if (text !== null && pairs === null) {
      this.warn(`${stage.name}: run cache entry ${this.itemRuns.file(stageHash)} is not a valid items entry: ignored, its items run`);
      this.itemRuns.remove(stageHash);
    }
    if (this.mode === 'remote') {
      const remote = await this.fetchText(itemsRemoteKey(stageHash));
      const got = remote === null ? null : parseItemsEntry(remote);
      if (remote !== null && got === null) this.warn(`${stage.name}: the remote's run cache items entry is not valid: ignored`);
      if (got) pairs = new Map([...got, ...(pairs ?? [])]);
    }
    return pairs ?? new Map();
  }

  /** An item output recorded in the manifest, placed from its object when the path is free or dvcl's. */
  async restoreFile(rel: string, hash: string): Promise<RestoredFrom | null> {
    if (this.mode === 'off') return null;
    let from: RestoredFrom = 'local';
    if (!this.objects.has(hash)) {
      if (this.mode !== 'remote' || !(await this.fetchObject(hash))) return null;
      from = 'remote';
    }
    return (await this.place([{ path: rel, hash, size: null, kind: 'file', stage: '' }])) ? from : null;
  }

  async close(): Promise<void> {
    const store = await this.store;
    await store?.close();
  }

  private treeText(hash: string): string | null {
    const text = this.objects.readText(hash);
    if (text === null) return null;
    if (this.p.hasher.for(hash).hashString(text) === hash) return text;
    this.objects.remove(hash);
    return null;
  }

  private allLocal(outputs: RecordedOutput[]): boolean {
    return outputs.every((o) => {
      if (o.kind === 'file') return this.objects.has(o.hash);
      const entries = parseTree(this.treeText(o.hash) ?? '');
      return entries !== null && entries.every((e) => e.hash === undefined || this.objects.has(e.hash));
    });
  }

  /** With mode `remote`, fetch the objects the local cache lacks; true when any was fetched. */
  private async gather(outputs: RecordedOutput[]): Promise<boolean> {
    if (this.mode !== 'remote') return false;
    let any = false;
    for (const o of outputs) {
      if (o.kind === 'dir' && this.treeText(o.hash) === null) any = (await this.fetchObject(o.hash)) || any;
      const hashes = o.kind === 'file' ? [o.hash] : (parseTree(this.treeText(o.hash) ?? '') ?? []).flatMap((e) => (e.hash === undefined ? [] : [e.hash]));
      for (const h of hashes) if (!this.objects.has(h)) any = (await this.fetchObject(h)) || any;
    }
    return any;
  }

  private async place(outputs: RecordedOutput[]): Promise<boolean> {
    const root = this.p.cfg.root;
    const plan = planRestore({ root, hasher: this.p.hasher, tree: (h) => this.treeText(h), force: false, known: (h) => this.objects.has(h) }, outputs);
    if (plan.failed.length) return false;
    if (removePlanned(root, plan.remove).length) return false;
    try {
      for (const l of plan.links) placeLink(root, l.path, l.target);
      await this.hasher.ready(plan.place.map((f) => f.hash));
      for (const f of plan.place) {
        placeFromCache(this.objects, this.hasher, root, f.path, f.hash);
        this.p.hasher.remember(f.path, f.hash);
      }
    } catch (e) {
      this.warn(oneLine(`restoring from the run cache failed (${(e as Error).message}): running instead`));
      return false;
    }
    return true;
  }

  private async remote(): Promise<ObjectStore | null> {
    if (this.unusable) return null;
    this.store ??= (async () => {
      const remote = configuredRemote(this.p.cfg);
      if (!remote) return null;
      try {
        const { openRemote } = await import('../store/remote.js');
        return await openRemote(remote.url, remote.options, { cwd: remoteBase(remote, this.p.cfg.root) });
      } catch (e) {
        this.warn(oneLine(`the run cache cannot use the remote (${(e as Error).message}): stages run`));
        return null;
      }
    })();
    return this.store;
  }

  private async fetchText(key: string): Promise<string | null> {
    const store = await this.remote();
    if (!store) return null;
    try {
      const chunks: Buffer[] = [];
      for await (const c of await store.get(key)) chunks.push(Buffer.from(c as Buffer));
      return Buffer.concat(chunks).toString('utf8');
    } catch (e) {
      const { isStoreError } = await import('../store/object-store.js');
      if (isStoreError(e, 'not_found')) return null;
      this.warn(oneLine(`cannot read the remote's run cache: ${(e as Error).message}`));
      // Once per run: every other request would fail the same way.
      if (isStoreError(e) && e.remoteWide) this.unusable = true;
      return null;
    }
  }

  private async fetchObject(hash: string): Promise<boolean> {
    const store = await this.remote();
    if (!store) return false;
    try {
      const { fetchObject } = await import('../store/transfer.js');
      await fetchObject(store, hash, this.objects.file(hash));
      return true;
    } catch {
      return false;
    }
  }
}
