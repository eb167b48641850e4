// A `repro --shard` worker's link to the remote: the items its earlier attempts recorded there, and
// the uploads of what it records now (each output first, then the ledger fragment that names it).
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { oneLine } from '../errors.js';
import { fragmentKey, parseFragment, serializeFragment, shardPrefix, stagePrefix, type Fragment, type FragmentEntry } from '../ledger/fragment.js';
import { cmp, type LockEntry, type LockPath } from '../ledger/lock.js';
import { dict, type ItemRecord, type RunRecord } from '../ledger/manifest-format.js';
import type { Project } from '../project.js';
import { missingObjects } from '../store/missing.js';
import { objectKey, readObject, type ObjectStore } from '../store/object-store.js';
import { forEachLimit } from '../store/pool.js';
import { pushObject } from '../store/transfer.js';
import { abs } from '../util/paths.js';
import type { StageConfig } from '../pipeline.js';
import type { Evaluation } from '../status/status.js';
import { shardText, type Shard } from './shard.js';

/** How often records go up while the shard runs (and always at its end); DVCL_SHARD_FLUSH_MS overrides. */
const FLUSH_MS = 30_000;

export interface ShardHeader {
  commit: string;
  stage: string;
  stage_key: string;
  items_set: string;
  items_total: number;
  shard: Shard;
  entry: FragmentEntry;
  present: [string, string][];
}

export class ShardUploader {
  readonly attempt = randomBytes(6).toString('hex');
  private seq = 0;
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private failure: unknown = null;

  constructor(private readonly store: ObjectStore, private readonly p: Project, private readonly h: ShardHeader, private readonly warn: (m: string) => void) {}

  /** Items this shard's earlier attempts (any worker) recorded on the remote for these inputs. */
  static async earlier(store: ObjectStore, h: Omit<ShardHeader, 'entry' | 'present'>, warn: (m: string) => void): Promise<Map<string, ItemRecord>> {
    const prefix = `${stagePrefix(h.stage)}${h.commit}/${shardPrefix(h.shard)}`;
    const keys: string[] = [];
    for await (const o of store.list(prefix)) keys.push(o.key);
    const done = new Map<string, ItemRecord>();
    for (const key of keys.sort(cmp)) {
      let f: Fragment;
      try {
        f = parseFragment((await readObject(store, key)).toString('utf8'), key);
      } catch (e) {
        warn(oneLine(`ignoring ${key}: ${(e as Error).message}`));
        continue;
      }
      if (f.stage_key !== h.stage_key || f.items_set !== h.items_set) continue;
      for (const [item, rec] of Object.entries(f.items)) if (rec.status === 'success') done.set(item, rec);
    }
    return done;
  }

  start(): void {
    const ms = Number(process.env.DVCL_SHARD_FLUSH_MS) || FLUSH_MS;
    this.timer = setInterval(() => void this.flush(), ms);
    this.timer.unref();
  }

  /** An item of the shard whose record is to go up (it ran, or a killed attempt in this clone ran it). */
  note(item: string): void {
    this.pending.add(item);
  }

  /**
   * Upload what is pending; the first call also sends the shard's listing. A failed upload keeps
   * its items pending for the next one; only a failure of the last is the run's (see flushNow).
   */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.send()).then(() => { this.failure = null; }, (e) => { this.failure = e; });
    return this.flushing;
  }

  async flushNow(): Promise<void> {
    await this.flush();
    if (this.failure) throw this.failure;
  }

  async finish(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flushNow();
  }

  private async send(): Promise<void> {
    if (this.seq > 0 && this.pending.size === 0) return;
    const names = [...this.pending];
    this.pending.clear();
    try {
      await this.sendItems(names);
    } catch (e) {
      for (const n of names) this.pending.add(n);
      throw e;
    }
  }

  private async sendItems(names: string[]): Promise<void> {
    const recs = this.p.manifest.stage(this.h.stage)?.items ?? {};
    const items = dict<ItemRecord>();
    for (const n of names) if (Object.hasOwn(recs, n)) items[n] = recs[n];
    // Outputs first: a fragment on the remote means the outputs it names are there.
    const files = new Map<string, { item: string; file: string | Buffer }>();
    const trees: { item: string; hash: string; text: string }[] = [];
    for (const [item, rec] of Object.entries(items)) {
      if (rec.status !== 'success' || rec.output === undefined || rec.output_hash === undefined) continue;
      if (rec.output_nfiles === undefined) {
        files.set(rec.output_hash, { item, file: abs(this.p.cfg.root, rec.output) });
        continue;
      }
      const tree = this.p.hasher.for(rec.output_hash).tree(rec.output);
      if (!tree || tree.hash !== rec.output_hash) { this.drop(items, item, 'its output changed since it was recorded'); continue; }
      for (const f of tree.files) files.set(f.hash, { item, file: f.abs });
      trees.push({ item, hash: tree.hash, text: tree.text });
    }
    const missing = await missingObjects(this.store, [...files.keys(), ...trees.map((t) => t.hash)]);
    const lacking = new Set(missing);
    await forEachLimit([...files].filter(([h]) => lacking.has(h)), this.store.jobs, async ([hash, { item, file }]) => {
      try {
        await pushObject(this.store, hash, file as string); // a Buffer: a name not valid UTF-8, as fs takes it
      } catch (e) {
        this.drop(items, item, oneLine((e as Error).message));
      }
    });
    for (const t of trees.filter((x) => lacking.has(x.hash) && Object.hasOwn(items, x.item))) {
      const body = Buffer.from(t.text);
      await this.store.put(objectKey(t.hash), { size: body.length, open: () => Readable.from([body]) });
    }
    const runs = dict<RunRecord>();
    for (const rec of Object.values(items)) {
      const r = this.p.manifest.data.runs[rec.run];
      if (r) runs[rec.run] = r;
    }
    const frag: Fragment = {
      version: 1, commit: this.h.commit, stage: this.h.stage, stage_key: this.h.stage_key, items_set: this.h.items_set, items_total: this.h.items_total,
      shard: { index: this.h.shard.index, count: this.h.shard.count }, attempt: this.attempt, seq: this.seq, entry: this.h.entry,
      ...(this.seq === 0 ? { present: this.h.present } : {}), items, runs,
    };
    const body = Buffer.from(serializeFragment(frag));
    await this.store.put(fragmentKey(frag), { size: body.length, open: () => Readable.from([body]) });
    this.seq++;
  }

  /** Not sent: the item runs again in the next attempt (gather reports it uncovered meanwhile). */
  private drop(items: Record<string, ItemRecord>, item: string, why: string): void {
    delete items[item];
    this.warn(`${this.h.stage}: ${item}: not uploaded (${why})`);
  }
}

/** What a shard takes from its run (a RunSession). */
export interface ShardSession {
  readonly p: Project;
  readonly rep: { info?(msg: string): void };
  ensureRun(): Promise<void>;
  lockEntry(ev: Evaluation, outs: LockPath[], extra?: Partial<LockEntry>): LockEntry;
}

/** What `repro --shard` adds to a run: the partition, the remote, and the uploader of the stage it runs. */
export class ShardRun {
  private uploader: ShardUploader | null = null;

  /** `names`: every item of the stage, sorted, as listed before the listing was narrowed to the shard. */
  constructor(readonly shard: Shard, readonly commit: string, private readonly store: ObjectStore, private readonly names: readonly string[], private readonly warn: (m: string) => void) {}

  /**
   * The evaluation narrowed to this shard's items, less those an earlier attempt recorded on the
   * remote, and less those recorded here with their output on the remote (a fresh clone lacks it).
   */
  async begin(s: ShardSession, stage: StageConfig, ev: Evaluation): Promise<Evaluation> {
    await s.ensureRun();
    const items = ev.items!;
    const mine = items.present; // the listing was narrowed to the shard (reproShard)
    const entry = s.lockEntry(ev, [], { out: stage.out });
    const header: ShardHeader = {
      commit: this.commit, stage: stage.name, stage_key: items.stageHash, items_set: s.p.hasher.hashParts(this.names.map((n) => `${n}\n`)),
      items_total: this.names.length, shard: this.shard,
      entry: { cmd: entry.cmd, ...(entry.wdir ? { wdir: entry.wdir } : {}), ...(entry.env ? { env: entry.env } : {}), deps: entry.deps, params: entry.params, out: stage.out, git: entry.git },
      present: mine.map((p) => [p.item, p.hash]),
    };
    const earlier = await ShardUploader.earlier(this.store, header, this.warn);
    const matches = (rec: ItemRecord | undefined, hash: string) => rec?.status === 'success' && rec.hash === hash && items.stageHashes.includes(rec.stage_hash ?? '');
    const records = s.p.manifest.stage(stage.name)?.items ?? {};
    // Recorded successes whose output is only missing here: on the remote already, nothing to run.
    const outputOnly = items.tasks.filter((t) => t.why === 'output_missing' && matches(records[t.item], t.hash) && records[t.item].output_nfiles === undefined);
    const lacking = new Set(await missingObjects(this.store, outputOnly.map((t) => records[t.item].output_hash!).filter(Boolean)));
    const skip = new Set(outputOnly.filter((t) => !lacking.has(records[t.item].output_hash!)).map((t) => t.item));
    const tasks = items.tasks.filter((t) => !skip.has(t.item) && !matches(earlier.get(t.item), t.hash));
    this.uploader = new ShardUploader(this.store, s.p, header, this.warn);
    // Recorded in this clone by an attempt killed before it could send them.
    const todo = new Set(tasks.map((t) => t.item));
    for (const p of mine) {
      const rec = Object.hasOwn(records, p.item) ? records[p.item] : undefined;
      if (rec && !todo.has(p.item) && !skip.has(p.item) && !matches(earlier.get(p.item), p.hash) && rec.hash === p.hash && rec.run && s.p.manifest.data.runs[rec.run]?.git_commit === this.commit) this.uploader.note(p.item);
    }
    s.rep.info?.(`shard ${shardText(this.shard)} (${this.shard.source === 'flag' ? '--shard' : this.shard.source}): ${mine.length} of ${this.names.length} items, ${tasks.length} to run, attempt ${this.uploader.attempt}`);
    await this.uploader.flushNow(); // an unusable remote stops the shard before any item runs
    this.uploader.start();
    return { ...ev, items: { ...items, present: mine, tasks } };
  }

  note(item: string): void {
    this.uploader?.note(item);
  }

  async finish(): Promise<void> {
    await this.uploader?.finish();
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
