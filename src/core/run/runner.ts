import fs from 'node:fs';
import path from 'node:path';
import type { StageConfig } from '../pipeline.js';
import { chainLengths, selectStages } from '../graph/dag.js';
import { DvclError, oneLine } from '../errors.js';
import { failureReason, runShell, scriptOf, wdirProblem } from './exec.js';
import { ProcessGroups } from './process-groups.js';
import { userEnv } from './user-env.js';
import { cloneWarnings } from '../services/clone-health.js';
import { gitInfo, type GitInfo } from '../git/git.js';
import { cmp, readLock, updateLockEntry, type LockEntry, type LockPath } from '../ledger/lock.js';
import { isoTime } from '../ledger/manifest.js';
import { abs } from '../util/paths.js';
import { checkTargets, loadProjectConfig, lockForWriting, openProject, type Project } from '../services/project.js';
import { runRecord } from '../ledger/run-record.js';
import { Slots } from './slots.js';
import { Interrupts } from './interrupts.js';
import { ItemExecutor, type StartedItem } from './item-exec.js';
import { runItemPool } from './item-pool.js';
import { checkPlaced, prepareOuts } from './outs.js';
import { applyDrop, keptWarning, planDrop, type DropPlan } from './dropped-items.js';
import { ReproCache } from '../store/local-cache.js'; // share: .dvcl/objects/
import { checkItemOutputs, evaluateStage, isProduced, itemsHash, sameInputs, stageWarnings, type EvalContext, type EvalOptions, type Evaluation, type ItemListing, type Reason } from '../status/status.js';

export type StageOutcome = 'ran' | 'skipped' | 'failed' | 'not_run' | 'would_run';
export interface ItemCounts { total: number; ran: number; succeeded: number; failed: number; given_up: number }
export interface StageResult {
  name: string; result: StageOutcome; reasons: Reason[]; duration_ms: number; error?: string; items?: ItemCounts;
  /** skipped because `frozen: true` */ frozen?: true;
  /** dry run: runs only if its upstream's outs change */ may_skip?: true;
  /** per-item stage that dropped items (input gone): their outputs removed (dry run: to remove) */ removed_outputs?: string[];
  /** likewise, the outputs kept because they are not the files dvcl recorded (a warning names each) */ kept_outputs?: string[];
}
export interface ReproResult { ok: boolean; interrupted?: NodeJS.Signals; run?: string; stages: StageResult[] }

/** What the command shows while a run goes on; every hook optional. */
export interface Reporter {
  stageStart?(name: string, ev: Evaluation, items?: number): void;
  stageOutput?(name: string, stream: 'stdout' | 'stderr', line: string): void;
  stageEnd?(r: StageResult): void;
  itemDone?(stage: string, done: number, total: number, failed: number): void;
  warn?(msg: string): void;
}

export interface ReproOptions {
  cwd: string;
  targets?: string[];
  force?: boolean;
  single?: boolean;
  downstream?: boolean;
  dryRun?: boolean;
  jobs?: number;
  keepGoing?: boolean;
  /** `retry --only-failed`: failed stages and failed items only, nothing else. */
  onlyFailed?: boolean;
  maxAttempts?: number;
  argv?: string[];
  reporter?: Reporter;
}

/** `dvcl repro` and `dvcl retry`: bring the selected stages up to date, in parallel where the DAG allows. */
export async function repro(opts: ReproOptions): Promise<ReproResult> {
  const rep = opts.reporter ?? {};
  const readOnly = Boolean(opts.dryRun);
  const cfg = loadProjectConfig(opts.cwd);
  const targets = opts.targets ?? [];
  checkTargets(cfg, targets);
  for (const w of await cloneWarnings(cfg.root)) rep.warn?.(w);
  if (readOnly) {
    const project = await openProject({ cwd: opts.cwd, cfg, readOnly, onWarning: rep.warn });
    return new Run(project, opts, rep, null, new ProcessGroups()).go(targets);
  }
  // The run lock, then the state read under it (a crashed run's journal is recovered only by the
  // lock's holder), with signals caught from before the lock is taken (see Interrupts).
  const interrupts = new Interrupts();
  try {
    const runLock = await lockForWriting(cfg, `dvcl ${(opts.argv ?? []).join(' ')}`.trim(), rep.warn);
    try {
      const project = await openProject({ cwd: opts.cwd, cfg, onWarning: rep.warn });
      return await new Run(project, opts, rep, interrupts, runLock.groups).go(targets);
    } finally {
      await runLock.release();
    }
  } finally {
    interrupts.stop();
  }
}

class Run {
  private readonly ctx: EvalContext;
  private readonly byName: Map<string, StageConfig>;
  private readonly slots: Slots;
  private readonly results = new Map<string, StageResult>();
  private stopped = false;
  private interrupted: NodeJS.Signals | undefined;
  private runId = '';
  private started = new Date();
  private gitReady: Promise<void> | undefined;
  /** Each selected per-item stage's items, listed (and checked) before anything ran. */
  private readonly listed = new Map<string, ItemListing>();
  /** A stage has started running: files may have changed since the items were listed. */
  private anyStarted = false;
  private git: GitInfo = { commit: null, branch: null, dirty: null, user: null };
  private readonly cache: ReproCache | null; // share: each recorded out kept in .dvcl/objects/

  constructor(private readonly p: Project, private readonly opts: ReproOptions, private readonly rep: Reporter, private readonly interrupts: Interrupts | null, private readonly groups: ProcessGroups) {
    this.ctx = { cfg: p.cfg, lock: p.lock, manifest: p.manifest, hasher: p.hasher, maxAttempts: opts.maxAttempts ?? p.cfg.settings.max_attempts };
    this.byName = new Map(p.cfg.stages.map((s) => [s.name, s]));
    this.slots = new Slots(opts.jobs ?? p.cfg.settings.jobs);
    this.cache = ReproCache.of(p, (m) => rep.warn?.(m)); // share
  }

  async go(targets: string[]): Promise<ReproResult> {
    const { cfg, manifest } = this.p;
    const how = { single: this.opts.single || this.opts.onlyFailed, downstream: this.opts.downstream };
    const frozen = new Set(cfg.stages.filter((s) => s.frozen).map((s) => s.name));
    let selected = selectStages(cfg.dag, targets, { ...how, frozen });
    if (frozen.size && targets.length) {
      const cut = selectStages(cfg.dag, targets, how).filter((n) => !selected.includes(n));
      const at = [...frozen].filter((f) => selected.includes(f));
      if (cut.length) this.rep.warn?.(`${at.length > 1 ? 'stages' : 'stage'} ${at.join(', ')} ${at.length > 1 ? 'are' : 'is'} frozen: not running ${cut.join(', ')} upstream of ${at.length > 1 ? 'them' : 'it'}, which nothing in this run would read`);
    }
    if (this.opts.onlyFailed) selected = selected.filter((n) => this.hasFailures(n));
    this.checkMissingDeps(selected);
    // Before anything runs; items that upstream stages produce are checked when their stage starts.
    for (const name of selected) if (this.byName.get(name)!.foreach) this.listed.set(name, checkItemOutputs(cfg.root, this.byName.get(name)!));
    if (this.opts.dryRun) return this.dryRun(selected);

    this.started = new Date();
    this.runId = manifest.newRunId(this.started);
    this.interrupts?.listen((sig) => this.interrupt(sig));
    try {
      const chain = chainLengths(cfg.dag);
      const tasks = new Map<string, Promise<StageResult>>();
      for (const name of selected) {
        const ups = [...cfg.dag.upstream.get(name)!].filter((u) => tasks.has(u)).map((u) => tasks.get(u)!);
        tasks.set(name, this.stageTask(name, ups, chain.get(name) ?? 0));
      }
      await Promise.all(tasks.values());
    } finally {
      const run = manifest.data.runs[this.runId];
      if (run) manifest.recordRun(this.runId, { ...run, finished_at: isoTime() });
      manifest.save();
      this.p.hasher.save();
    }
    const stages = selected.map((n) => this.results.get(n)!);
    // Items given up after max_attempts are failures too: they are reported, not run, and the exit is 1.
    const ok = !this.interrupted && stages.every((s) => s.result !== 'failed' && s.result !== 'not_run' && !s.items?.given_up);
    return { ok, interrupted: this.interrupted, run: this.runId, stages };
  }

  /**
   * Git info and the run record, on the first stage that runs or writes: a no-op repro never loads
   * simple-git nor starts git. Taken before that stage touches the tree, so `dirty` describes the
   * tree the run started from. The record itself is written with the run's first change.
   */
  private ensureRun(): Promise<void> {
    this.gitReady ??= gitInfo(this.p.cfg.root).then((git) => {
      this.git = git;
      this.p.manifest.deferRun(this.runId, runRecord(this.opts.argv ?? [], git, this.started));
    });
    return this.gitReady;
  }

  private hasFailures(name: string): boolean {
    const rec = this.p.manifest.stage(name);
    return rec?.status === 'failed' || Object.values(rec?.items ?? {}).some((i) => i.status === 'failed');
  }

  /** A dep that does not exist and that no stage produces: exit 2 before anything runs. */
  private checkMissingDeps(selected: string[]): void {
    const missing: string[] = [];
    for (const name of selected) {
      const stage = this.byName.get(name)!;
      if (stage.frozen) continue;
      for (const d of stage.deps) {
        if (!fs.existsSync(abs(this.p.cfg.root, d)) && !isProduced(this.p.cfg, d)) missing.push(`${d} (stage ${name})`);
      }
    }
    if (missing.length) {
      throw new DvclError('dep_missing', `missing dependenc${missing.length > 1 ? 'ies' : 'y'} that no stage produces: ${missing.join(', ')}`, {
        suggestions: ['create the file, or add the stage that writes it to .pipelinerc'],
      });
    }
  }

  private interrupt(sig: NodeJS.Signals): void {
    if (this.interrupted) {
      this.groups.killAll('SIGKILL'); // a second Ctrl-C: no more grace
      return;
    }
    this.interrupted = sig;
    this.stopped = true;
    this.rep.warn?.(`${sig === 'SIGINT' ? 'interrupted' : 'terminated'}: stopping running stages (again to force)`);
    this.groups.killAll('SIGTERM');
    setTimeout(() => this.groups.killAll('SIGKILL'), 3000).unref();
  }

  /** What would run and why, without running or writing anything. */
  private dryRun(selected: string[]): ReproResult {
    const willRun = new Set<string>();
    const stages: StageResult[] = [];
    for (const name of selected) {
      const ups = [...this.p.cfg.dag.upstream.get(name)!].filter((u) => willRun.has(u));
      const ev = evaluateStage(this.ctx, this.byName.get(name)!, ups, this.evalOptions(name));
      for (const w of stageWarnings(ev.status)) this.rep.warn?.(w);
      // A stage below one that runs is evaluated again when that one is done: it runs unless the
      // upstream outs come out the same (early cutoff). The plan says so rather than "up to date".
      const drop = this.dropPlan(name, ev);
      const own = (this.shouldRun(ev) && (ev.items !== undefined || ev.status.reasons.some((x) => x.code !== 'upstream_stale'))) || drop !== null;
      const mayRun = !own && ups.length > 0 && ev.status.state !== 'frozen';
      if (own || mayRun) willRun.add(name);
      const r: StageResult = {
        name, result: own || mayRun ? 'would_run' : 'skipped', reasons: ev.status.reasons, duration_ms: 0,
        ...(mayRun ? { may_skip: true as const } : {}), ...(ev.status.state === 'frozen' ? { frozen: true as const } : {}),
      };
      if (ev.items) r.items = { total: ev.items.present.length, ran: ev.items.tasks.length, succeeded: 0, failed: 0, given_up: ev.items.givenUp.length };
      if (drop) Object.assign(r, { removed_outputs: drop.remove.map((o) => o.path), kept_outputs: drop.keep.map((k) => k.path) });
      this.rep.stageEnd?.(r);
      stages.push(r);
    }
    return { ok: true, stages };
  }

  /** The per-item stage's items listed before the run are still its items while no stage has started. */
  private evalOptions(name: string): EvalOptions {
    return { force: this.opts.force, onlyFailed: this.opts.onlyFailed, items: this.anyStarted ? undefined : this.listed.get(name) };
  }

  /**
   * The items of a per-item stage to drop, their inputs gone, and what that does to their outputs;
   * null when there are none. `retry --only-failed` drops nothing: it only retries.
   */
  private dropPlan(name: string, ev: Evaluation): DropPlan | null {
    if (!ev.items?.dropped.length || this.opts.onlyFailed) return null;
    const records = this.p.manifest.stage(name)?.items ?? {};
    return planDrop(this.p.hasher, name, records, ev.items.dropped, new Set(ev.items.present.map((p) => p.output)));
  }

  /** Drop the items whose input is gone, removing their outputs (see dropped-items.ts) before any item runs. */
  private async dropItems(stage: StageConfig, ev: Evaluation): Promise<Pick<StageResult, 'removed_outputs' | 'kept_outputs'> | undefined> {
    const plan = this.dropPlan(stage.name, ev);
    if (!plan) return undefined;
    await this.ensureRun();
    // Removed outputs may be another per-item stage's inputs: the items listed before the run are stale.
    this.anyStarted = true;
    const { removed, kept } = applyDrop(this.p.cfg.root, this.p.manifest, stage.out!, plan);
    for (const k of kept) this.rep.warn?.(keptWarning(stage.name, k));
    return { removed_outputs: removed, kept_outputs: kept.map((k) => k.path).sort() };
  }

  private shouldRun(ev: Evaluation): boolean {
    if (ev.status.state === 'frozen') return false;
    if (ev.items) return ev.items.tasks.length > 0 || ev.status.reasons.some((r) => r.code === 'always_changed' || r.code === 'forced');
    return ev.status.reasons.length > 0;
  }

  private async stageTask(name: string, ups: Promise<StageResult>[], prio: number): Promise<StageResult> {
    const upResults = await Promise.all(ups);
    const start = Date.now();
    const finish = (r: Omit<StageResult, 'name' | 'duration_ms'>): StageResult => {
      const res = { name, duration_ms: Date.now() - start, ...r };
      this.results.set(name, res);
      this.rep.stageEnd?.(res);
      return res;
    };
    const blocked = upResults.find((u) => u.result === 'failed' || u.result === 'not_run');
    if (blocked) return finish({ result: 'not_run', reasons: [], error: `upstream stage ${blocked.name} did not complete` });
    if (this.stopped) return finish({ result: 'not_run', reasons: [], error: this.interrupted ? 'interrupted' : 'an earlier stage failed' });
    // Fresh evaluation now that upstream is done: identical upstream outs mean nothing changed here (early cutoff).
    // The lock is re-read only when an upstream stage ran (and wrote it): parsing it for every stage
    // made a no-op repro of 50 stages take seconds.
    if (upResults.some((u) => u.result === 'ran')) this.ctx.lock = readLock(this.p.cfg.root);
    const stage = this.byName.get(name)!;
    const ev = evaluateStage(this.ctx, stage, [], this.evalOptions(name));
    for (const w of stageWarnings(ev.status)) this.rep.warn?.(w);
    let dropped: Awaited<ReturnType<Run['dropItems']>>;
    try {
      dropped = await this.dropItems(stage, ev);
    } catch (e) {
      this.stopUnlessKeepGoing(); // e.g. the journal could not be written
      return finish({ result: 'failed', reasons: ev.status.reasons, error: (e as Error).message });
    }
    if (!this.shouldRun(ev)) {
      if (ev.items) await this.refreshItemsLock(stage, ev); // e.g. inputs were deleted: nothing to run, a new items hash
      const givenUp = ev.items?.givenUp.length ?? 0;
      if (givenUp > 0) {
        // Nothing left to try, but the stage is not complete: downstream must not run on partial data.
        this.stopUnlessKeepGoing();
        return finish({ result: 'failed', reasons: ev.status.reasons, items: this.itemCounts(ev, 0, 0, 0), ...dropped, error: `${givenUp} item${givenUp > 1 ? 's' : ''} given up after ${this.ctx.maxAttempts} failed attempts (raise with retry --max-attempts)` });
      }
      // Dropping items changed the stage's outputs: it ran, and what reads them is evaluated again.
      return finish({ result: dropped ? 'ran' : 'skipped', reasons: ev.status.reasons, ...(ev.status.state === 'frozen' ? { frozen: true as const } : {}), ...(ev.items ? { items: this.itemCounts(ev, 0, 0, 0) } : {}), ...dropped });
    }
    let r: Omit<StageResult, 'name' | 'duration_ms'>;
    this.anyStarted = true;
    try {
      r = ev.items ? await this.runItems(stage, ev, prio) : await this.runStage(stage, ev, prio);
    } catch (e) {
      // An I/O error (a full disk writing pipeline.lock or the journal) fails this stage like any
      // failure: the stages already running finish, under the run lock, before dvcl exits.
      r = { result: 'failed', reasons: ev.status.reasons, error: (e as Error).message };
    }
    if (r.result === 'failed') this.stopUnlessKeepGoing();
    return finish({ ...r, ...dropped });
  }

  /**
   * Called at the failure itself, before the failed stage gives back its job slot: a stage waiting
   * for that slot resumes before the failed stage's caller would see the result.
   */
  private stopUnlessKeepGoing(): void {
    if (!this.opts.keepGoing) this.stopped = true;
  }

  private itemCounts(ev: Evaluation, ran: number, ok: number, failed: number): ItemCounts {
    return { total: ev.items!.present.length, ran, succeeded: ok, failed, given_up: ev.items!.givenUp.length };
  }

  /** Copied once per run: spreading process.env (one getenv per variable) for each of 2,000 items cost ~4% of the run. */
  private readonly baseEnv = userEnv();

  private env(stage: StageConfig, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return { ...this.baseEnv, ...stage.env, DVCL_ROOT: this.p.cfg.root, DVCL_STAGE: stage.name, ...extra };
  }

  private openLog(stage: string): number {
    const dir = path.join(this.p.stateDir, 'logs');
    fs.mkdirSync(dir, { recursive: true });
    return fs.openSync(path.join(dir, `${stage}.log`), 'w');
  }

  private lockEntry(ev: Evaluation, outs: LockPath[], extra: Partial<LockEntry> = {}): LockEntry {
    const { cmd, wdir, env } = ev.inputs;
    return { cmd, ...(wdir ? { wdir } : {}), ...(env ? { env } : {}), deps: ev.inputs.deps, params: ev.inputs.params, outs, ...extra, git: { commit: this.git.commit, branch: this.git.branch, dirty: this.git.dirty }, run: this.runId };
  }

  /** A stage's own record: attempts count the failures in a row, and the success that ends them. */
  private recordStageResult(stage: string, failure?: string): void {
    const prev = this.p.manifest.stage(stage);
    const attempts = (prev?.status === 'failed' ? prev.attempts ?? 0 : 0) + 1;
    this.p.manifest.recordStage(stage, failure === undefined
      ? { status: 'success', run: this.runId, attempts, last_processed: isoTime() }
      : { status: 'failed', run: this.runId, attempts, reason: failure, last_attempt: isoTime(), last_processed: prev?.last_processed });
  }

  private async runStage(stage: StageConfig, ev: Evaluation, prio: number): Promise<Omit<StageResult, 'name' | 'duration_ms'>> {
    await this.slots.acquire(prio);
    const reasons = ev.status.reasons;
    let logFd: number | undefined;
    try {
      // Waited for a slot while another stage failed (without -k) or a signal came: start nothing new.
      if (this.stopped) return { result: 'not_run', reasons, error: this.interrupted ? 'interrupted' : 'an earlier stage failed' };
      await this.ensureRun();
      this.rep.stageStart?.(stage.name, ev);
      const fail = (error: string) => {
        this.recordStageResult(stage.name, error);
        this.stopUnlessKeepGoing();
        return { result: 'failed' as const, reasons, error };
      };
      const noWdir = wdirProblem(this.p.cfg.root, stage.wdir);
      if (noWdir) return fail(noWdir);
      try {
        prepareOuts(this.p.cfg.root, stage.outs, stage.persist);
      } catch (e) {
        return fail((e as Error).message);
      }
      logFd = this.openLog(stage.name);
      const root = this.p.cfg.root;
      for (const cmd of stage.cmd) {
        const r = await runShell({
          shell: this.p.cfg.settings.shell, cmd: scriptOf(cmd), cwd: abs(root, stage.wdir), env: this.env(stage), logFd, groups: this.groups,
          onLine: (s, l) => this.rep.stageOutput?.(stage.name, s, l),
        });
        if (this.interrupted) return { result: 'failed', reasons, error: `interrupted (${this.interrupted})` };
        if (r.code !== 0) return fail(failureReason(r));
      }
      const outs: LockPath[] = [];
      for (const o of stage.outs) {
        try {
          checkPlaced(root, o);
        } catch (e) {
          return fail((e as Error).message);
        }
        const h = this.p.hasher.hash(o);
        if (!h) return fail(`declared out ${oneLine(o)} was not produced by the command`);
        outs.push({ path: o, hash: h.hash, size: h.size, ...(h.isDir ? { nfiles: h.nfiles ?? 0 } : {}) });
      }
      outs.sort((a, b) => cmp(a.path, b.path));
      // The record first, then the lock entry: a kill between the two leaves a success that has no
      // entry yet (the stage runs again), never an entry whose run the manifest knows nothing of
      // while it still says the stage failed (issue 11).
      this.recordStageResult(stage.name);
      try {
        updateLockEntry(root, stage.name, this.lockEntry(ev, outs));
      } catch (e) {
        return fail((e as Error).message);
      }
      for (const o of outs) this.cache?.add(o.path, o.hash); // share: the recorded outs, for checkout and push
      return { result: 'ran', reasons };
    } finally {
      if (logFd !== undefined) fs.closeSync(logFd);
      this.slots.release();
    }
  }

  private async runItems(stage: StageConfig, ev: Evaluation, prio: number): Promise<Omit<StageResult, 'name' | 'duration_ms'>> {
    const { tasks, stageHash } = ev.items!;
    const reasons = ev.status.reasons;
    // Every item would fail to start, and spend an attempt: the stage fails instead, no item recorded.
    const noWdir = wdirProblem(this.p.cfg.root, stage.wdir);
    if (noWdir) {
      await this.ensureRun();
      this.recordStageResult(stage.name, noWdir);
      this.stopUnlessKeepGoing();
      return { result: 'failed', reasons, error: noWdir };
    }
    // The run record (git state) is read while the first items run; they are recorded after it.
    const runReady = this.ensureRun();
    this.rep.stageStart?.(stage.name, ev, tasks.length);
    const logFd = this.openLog(stage.name);
    const exec = new ItemExecutor({
      root: this.p.cfg.root, stateDir: this.p.stateDir, shell: this.p.cfg.settings.shell, stage, env: (extra) => this.env(stage, extra),
      hasher: this.p.hasher, manifest: this.p.manifest, runId: this.runId, stageHash, logFd, groups: this.groups, interrupted: () => Boolean(this.interrupted), cache: this.cache,
      onFailure: (item, reason) => {
        const [first, ...rest] = reason.split('\n');
        this.rep.stageOutput?.(stage.name, 'stderr', `${item} failed: ${first}`);
        for (const l of rest) this.rep.stageOutput?.(stage.name, 'stderr', `    ${l}`);
      },
    });
    let done = 0;
    let ok = 0;
    let failed = 0;
    const finish = async (started: StartedItem): Promise<boolean> => {
      await runReady;
      const r = await exec.finish(started);
      if (r === 'not_started') return false;
      if (r === 'interrupted') return true;
      done++;
      if (r === 'ok') ok++;
      else {
        failed++;
        this.stopUnlessKeepGoing(); // the stage will fail: start no other stage
      }
      this.rep.itemDone?.(stage.name, done, tasks.length, failed);
      return true;
    };
    try {
      await runItemPool({
        tasks, workers: this.opts.jobs ?? this.p.cfg.settings.jobs, exec, slots: this.slots, prio,
        stopped: () => Boolean(this.interrupted), finish,
      });
    } finally {
      fs.closeSync(logFd);
    }
    if (this.interrupted) return { result: 'failed', reasons, error: `interrupted (${this.interrupted})`, items: this.itemCounts(ev, done, ok, failed) };
    const counts = this.itemCounts(ev, done, ok, failed);
    const stillFailed = ev.items!.present.filter((p) => this.p.manifest.stage(stage.name)?.items?.[p.item]?.status === 'failed').length;
    if (stillFailed > 0) {
      this.recordStageResult(stage.name, `${stillFailed} item${stillFailed > 1 ? 's' : ''} failed`);
      return { result: 'failed', reasons, items: counts, error: `${stillFailed} of ${ev.items!.present.length} items failed` };
    }
    this.recordStageResult(stage.name);
    await this.refreshItemsLock(stage, ev);
    return { result: 'ran', reasons, items: counts };
  }

  /**
   * The lock entry of a per-item stage: shared deps, params, and one hash over every item. Written
   * only when every present item succeeded in its present version (retry --only-failed may leave
   * new or changed items pending: the stage is then not complete).
   */
  private async refreshItemsLock(stage: StageConfig, ev: Evaluation): Promise<void> {
    const items = this.p.manifest.stage(stage.name)?.items ?? {};
    const { present, stageHashes } = ev.items!;
    if (present.some((p) => items[p.item]?.status !== 'success' || items[p.item].hash !== p.hash || !stageHashes.includes(items[p.item].stage_hash ?? ''))) return;
    // An entry recorded with another algorithm than settings.hash is compared with its own: when
    // nothing changed it stays as it is, not rewritten with new hashes of the same content.
    const old = this.ctx.lock.stages[stage.name];
    if (old?.items && old.items.hash === itemsHash(this.p.hasher.for(old.items.hash), present, items) && sameInputs(this.ctx, ev.inputs, old)) return;
    const entry = this.lockEntry(ev, [], { out: stage.out, items: { count: present.length, hash: itemsHash(this.p.hasher, present, items) } });
    await this.ensureRun();
    this.p.manifest.commitRun(); // the entry refers to this run
    // Every item succeeded, but a run killed after its last item never recorded the stage itself,
    // or its record is an old failure. Recorded before the entry, as in runStage.
    const rec = this.p.manifest.stage(stage.name);
    if (!rec?.run || rec.status !== 'success') this.recordStageResult(stage.name);
    updateLockEntry(this.p.cfg.root, stage.name, { ...entry, git: this.lockEntry(ev, []).git });
  }
}


