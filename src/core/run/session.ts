// One run's shared state: id and record, job slots, whether to stop, how a stage's result is written.
import fs from 'node:fs';
import path from 'node:path';
import type { StageConfig } from '../pipeline.js';
import { gitInfo, type GitInfo } from '../git/git.js';
import { sameEntryContent, type LockEntry, type LockPath } from '../ledger/lock.js';
import { isoTime } from '../ledger/manifest.js';
import { runRecord } from '../ledger/run-record.js';
import type { Project } from '../project.js';
import type { EvalContext, EvalOptions, Evaluation } from '../status/status.js';
import type { ItemListing } from '../status/items.js';
import type { ProcessGroups } from './process-groups.js';
import { ReproCache } from '../store/local-cache.js';
import { RunCache } from './run-cache.js';
import type { ShardRun } from './shard-worker.js';
import { Slots } from './slots.js';
import { Launchers } from './launcher.js';
import type { ItemCounts, Reporter, ReproOptions } from './types.js';
import { userEnv } from './user-env.js';

export class RunSession {
  readonly ctx: EvalContext;
  readonly byName: Map<string, StageConfig>;
  readonly slots: Slots;
  stopped = false;
  interrupted: NodeJS.Signals | undefined;
  runId = '';
  private started = new Date();
  private gitReady: Promise<void> | undefined;
  private git: GitInfo = { commit: null, branch: null, dirty: null, user: null };
  /** The git state read before the run began (nothing written since): the run's, without asking git again. */
  gitAtStart: GitInfo | undefined;
  readonly listed = new Map<string, ItemListing>();
  anyStarted = false;
  /** Copied once per run: spreading process.env (one getenv per variable) per item is measurable. */
  private readonly baseEnv = userEnv();
  readonly cache: ReproCache | null;
  readonly runCache: RunCache;
  /** `repro --shard`: the stage's items are narrowed to the shard and go up to the remote. */
  shard: ShardRun | null = null;
  /** Start stage commands (launcher.ts); {@link close} ends them. */
  readonly launchers = new Launchers(this.baseEnv);

  constructor(readonly p: Project, readonly opts: ReproOptions, readonly rep: Reporter, readonly groups: ProcessGroups) {
    this.ctx = { cfg: p.cfg, lock: p.lock, manifest: p.manifest, hasher: p.hasher, maxAttempts: opts.maxAttempts ?? p.cfg.settings.max_attempts };
    this.byName = new Map(p.cfg.stages.map((s) => [s.name, s]));
    this.slots = new Slots(opts.jobs ?? p.cfg.settings.jobs);
    // A shard worker's outputs go to the remote, where gather and pull find them; its clone is
    // usually a pod's or a job's, gone after: a local copy of each would be work for nothing.
    this.cache = opts.shard ? null : ReproCache.of(p, (m) => rep.warn?.(m));
    const setting = p.cfg.settings.run_cache ?? true;
    const mode = opts.runCache === false || setting === false || opts.force || opts.onlyFailed ? 'off' : opts.pull || setting === 'pull' ? 'remote' : 'local';
    this.runCache = new RunCache(p, mode, (m) => rep.warn?.(m));
  }

  /** The run's resident shells end; the run cache's pending writes finish. */
  async close(): Promise<void> {
    this.launchers.close();
    await this.runCache.close();
  }

  begin(): void {
    this.started = new Date();
    this.runId = this.p.manifest.newRunId(this.started);
    const { signal, forceSignal } = this.opts;
    if (signal?.aborted) this.interrupt(signal.reason as NodeJS.Signals);
    else signal?.addEventListener('abort', () => this.interrupt(signal.reason as NodeJS.Signals), { once: true });
    forceSignal?.addEventListener('abort', () => this.groups.killAll('SIGKILL'), { once: true });
  }

  /** On the first stage that runs or writes, before it touches the tree, so `dirty` is the tree the run started from. */
  ensureRun(): Promise<void> {
    this.gitReady ??= (this.gitAtStart ? Promise.resolve(this.gitAtStart) : gitInfo(this.p.cfg.root)).then((git) => {
      this.git = git;
      this.p.manifest.deferRun(this.runId, runRecord(this.opts.argv ?? [], git, this.started));
    });
    return this.gitReady;
  }

  private interrupt(sig: NodeJS.Signals): void {
    this.interrupted = sig;
    this.stopped = true;
    this.rep.warn?.(`${sig === 'SIGINT' ? 'interrupted' : 'terminated'}: stopping running stages (again to force)`);
    this.groups.killAll('SIGTERM');
    setTimeout(() => this.groups.killAll('SIGKILL'), 3000).unref();
  }

  stopReason(): string {
    return this.interrupted ? 'interrupted' : 'an earlier stage failed';
  }

  /** At the failure itself, before the failed stage frees its slot, which a waiting stage would take first. */
  stopUnlessKeepGoing(): void {
    if (!this.opts.keepGoing) this.stopped = true;
  }

  evalOptions(name: string): EvalOptions {
    return { force: this.opts.force, onlyFailed: this.opts.onlyFailed, items: this.anyStarted ? undefined : this.listed.get(name) };
  }

  itemCounts(ev: Evaluation, ran: number, ok: number, failed: number): ItemCounts {
    return { total: ev.items!.present.length, ran, succeeded: ok, failed, given_up: ev.items!.givenUp.length };
  }

  env(stage: StageConfig, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return { ...this.baseEnv, ...stage.env, DVCL_ROOT: this.p.cfg.root, DVCL_STAGE: stage.name, ...extra };
  }

  openLog(stage: string): number {
    const dir = path.join(this.p.stateDir, 'logs');
    fs.mkdirSync(dir, { recursive: true });
    return fs.openSync(path.join(dir, `${stage}.log`), 'w');
  }

  lockEntry(ev: Evaluation, outs: LockPath[], extra: Partial<LockEntry> = {}): LockEntry {
    const { cmd, wdir, env } = ev.inputs;
    return { cmd, ...(wdir ? { wdir } : {}), ...(env ? { env } : {}), deps: ev.inputs.deps, params: ev.inputs.params, outs, ...extra, git: { commit: this.git.commit, branch: this.git.branch, dirty: this.git.dirty }, run: this.runId };
  }

  keptEntry(stage: string, entry: LockEntry): boolean {
    const old = this.p.lockFile.entry(stage);
    return old !== undefined && sameEntryContent(old, entry);
  }

  recordStageResult(stage: string, failure?: string): void {
    const prev = this.p.manifest.stage(stage);
    const attempts = (prev?.status === 'failed' ? prev.attempts ?? 0 : 0) + 1;
    this.p.manifest.recordStage(stage, failure === undefined
      ? { status: 'success', run: this.runId, attempts, last_processed: isoTime() }
      : { status: 'failed', run: this.runId, attempts, reason: failure, last_attempt: isoTime(), last_processed: prev?.last_processed });
  }
}
