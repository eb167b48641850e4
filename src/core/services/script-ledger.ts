import fs from 'node:fs';
import path from 'node:path';
import { gitInfo } from '../git/git.js';
import { Hasher } from '../hashing/hash.js';
import { algorithmOf, type HashAlgorithm } from '../hashing/algorithms.js';
import { isoTime, Manifest as ManifestStore, type ItemRecord, type ItemStats } from '../ledger/manifest.js';
import { relFromRoot } from '../util/paths.js';
import { runRecord } from '../ledger/run-record.js';
import { decideItem } from '../status/decide.js';
import { DvclError } from '../errors.js';

export interface LedgerOptions {
  /** Paths are stored relative to it. Default: the current directory. */
  root?: string;
  stage?: string;
  /** Relative to root. Default: `.manifest.json`. */
  file?: string;
  algorithm?: HashAlgorithm;
  /** Attempts before a failed item is given up (shouldProcess → false). Default 3. */
  maxAttempts?: number;
}

/**
 * Per-file incremental processing for a Node script, with the ledger and crash journal of `dvcl repro`.
 * ```ts
 * import { Manifest } from 'dvcl';
 * const m = await Manifest.load({ stage: 'parse' });
 * for (const file of files) {
 *   if (!m.shouldProcess(file)) continue;
 *   try { const out = parse(file); m.recordSuccess(file, { output: out }); }
 *   catch (e) { m.recordFailure(file, e); }
 * }
 * m.save();
 * ```
 */
export class Manifest {
  private readonly hashes = new Map<string, string>();

  private constructor(
    readonly root: string, readonly stage: string, private readonly store: ManifestStore,
    private readonly hasher: Hasher, private readonly runId: string, private readonly maxAttempts: number,
  ) {}

  static async load(opts: LedgerOptions = {}): Promise<Manifest> {
    const root = path.resolve(opts.root ?? process.cwd());
    const stateDir = path.join(root, '.dvcl');
    const store = ManifestStore.load({ root, file: opts.file, journalDir: stateDir });
    const algorithm = opts.algorithm ?? 'xxh128';
    const stage = opts.stage ?? 'default';
    // Items recorded with another algorithm are checked with theirs (see Hasher.for).
    const recorded = Object.values(store.stage(stage)?.items ?? {}).map((r) => algorithmOf(r.hash)).filter((a) => a !== null);
    const hasher = await Hasher.open({ root, algorithm, stateDir, also: recorded });
    const started = new Date();
    const runId = store.newRunId(started);
    // Written with the first change, as by `dvcl repro`: a run that changes nothing leaves the file as it was.
    store.deferRun(runId, runRecord(process.argv.slice(1).map((a) => path.basename(a)), await gitInfo(root), started));
    return new Manifest(root, stage, store, hasher, runId, opts.maxAttempts ?? 3);
  }

  private rel(p: string): string {
    const r = relFromRoot(this.root, path.resolve(this.root, p));
    if (r === null) throw new DvclError('config', `${p} is outside the project root ${this.root}`);
    return r;
  }

  private hashOf(rel: string): string {
    const h = this.hasher.hash(rel);
    if (!h) throw new DvclError('io', `${rel} does not exist`);
    this.hashes.set(rel, h.hash);
    return h.hash;
  }

  /** New, changed, output missing, or failed with attempts left (or `force`). */
  shouldProcess(file: string, opts: { force?: boolean; output?: string } = {}): boolean {
    const rel = this.rel(file);
    const rec = this.record(rel);
    const output = opts.output ? this.rel(opts.output) : rec?.output;
    const outputExists = output === undefined || fs.existsSync(path.join(this.root, output));
    const hasher = this.hasher.for(rec?.hash);
    const hash = hasher === this.hasher ? this.hashOf(rel) : hasher.hash(rel)?.hash;
    if (hash === undefined) throw new DvclError('io', `${rel} does not exist`);
    const run = decideItem(rec, { hash, outputExists, maxAttempts: this.maxAttempts, force: opts.force }).run;
    // Recorded anew with the configured algorithm, hashed now: the version this answer was about.
    if (run && hasher !== this.hasher) this.hashOf(rel);
    return run;
  }

  recordSuccess(file: string, opts: { output?: string } = {}): void {
    const rel = this.rel(file);
    const output = opts.output === undefined ? undefined : this.rel(opts.output);
    const out = output ? this.hasher.hash(output) : null;
    this.store.recordSuccess(this.stage, rel, { hash: this.hashes.get(rel) ?? this.hashOf(rel), output, output_hash: out?.hash, output_nfiles: out?.nfiles, run: this.runId });
  }

  recordFailure(file: string, error: unknown): void {
    const rel = this.rel(file);
    const reason = error instanceof Error ? error.message : String(error);
    this.store.recordFailure(this.stage, rel, { hash: this.hashes.get(rel) ?? this.hashOf(rel), reason, run: this.runId });
  }

  record(file: string): ItemRecord | undefined {
    return this.store.stage(this.stage)?.items?.[this.rel(file)];
  }

  failed(): string[] {
    return this.store.failedItems(this.stage);
  }

  /** Forget items whose file no longer exists; never deletes files. */
  pruneDeleted(): string[] {
    const gone = Object.keys(this.store.stage(this.stage)?.items ?? {}).filter((i) => !fs.existsSync(path.join(this.root, i))).sort();
    this.store.removeItems(this.stage, gone);
    return gone;
  }

  statistics(): ItemStats {
    return this.store.statistics(this.stage, undefined, this.maxAttempts);
  }

  /** Also the stat cache; .manifest.json atomically, keeping .manifest.json.bak. */
  save(): void {
    const run = this.store.data.runs[this.runId];
    if (run) this.store.recordRun(this.runId, { ...run, finished_at: isoTime() });
    this.store.save();
    this.hasher.save();
  }
}
