// `dvcl repro` and `dvcl retry`: config, warnings, run lock, project, plan, schedule.
import { cloneWarnings } from './clone-health.js';
import { checkTargets, loadProjectConfig, lockForWriting, openProject } from './project.js';
import { planDryRun, selectForRun } from '../run/plan.js';
import { ProcessGroups } from '../run/process-groups.js';
import { runSelected } from '../run/schedule.js';
import { RunSession } from '../run/session.js';
import type { Reporter, ReproOptions, ReproResult } from '../run/types.js';
import { configuredRemote, remoteBase } from '../store/remote-index.js';
import { DvclError, oneLine } from '../errors.js';
import { gitInfo } from '../git/git.js';
import { selectStages } from '../graph/dag.js';
import type { PipelineConfig, StageConfig } from '../pipeline.js';
import { inShard, type Shard, shardText } from '../run/shard.js';
import { checkItemOutputs, type ItemListing } from '../status/items.js';
import { computeStatus } from '../status/status.js';

const LOCK_WRITE_INTERVAL_MS = 200;

/** Bring the selected stages up to date, in parallel where the DAG allows. */
export async function repro(opts: ReproOptions): Promise<ReproResult> {
  const rep = opts.reporter ?? {};
  const cfg = loadProjectConfig(opts.cwd);
  opts = { ...opts, targets: checkTargets(cfg, opts.targets ?? [], { cwd: opts.cwd, glob: opts.glob }) };
  const targets = opts.targets!;
  for (const w of await cloneWarnings(cfg.root)) rep.warn?.(w);
  if (opts.dryRun) {
    const s = new RunSession(await openProject({ cwd: opts.cwd, cfg, readOnly: true, onWarning: rep.warn }), opts, rep, new ProcessGroups());
    return opts.shard ? planShard(s, opts, cfg, rep) : planDryRun(s, selectForRun(s, targets));
  }
  if (opts.shard) return reproShard(opts, cfg, rep);
  if (opts.pull || (cfg.settings.run_cache === 'pull' && configuredRemote(cfg))) {
    // pull takes the named stages and their upstream; a pipeline also reaches downstream.
    await pullFirst(opts, rep, opts.pipeline ? selectStages(cfg.dag, targets, { pipeline: true }) : targets);
  }
  return underRunLock(opts, cfg, rep, opts, (s) => runSelected(s, selectForRun(s, targets)));
}

/**
 * A run session under the run lock, its lock writes coalesced and flushed at the end, error or not.
 * The state is read under the lock: only its holder recovers a crashed run's journal.
 */
async function underRunLock(opts: ReproOptions, cfg: PipelineConfig, rep: Reporter, sessionOpts: ReproOptions, body: (s: RunSession) => Promise<ReproResult>): Promise<ReproResult> {
  const runLock = await lockForWriting(cfg, `dvcl ${(opts.argv ?? []).join(' ')}`.trim(), rep.warn);
  try {
    const s = new RunSession(await openProject({ cwd: opts.cwd, cfg, onWarning: rep.warn }), sessionOpts, rep, runLock.groups);
    s.p.lockFile.coalesce(LOCK_WRITE_INTERVAL_MS);
    let result: ReproResult;
    try {
      result = await body(s);
    } catch (e) {
      try {
        s.p.lockFile.flush();
      } catch {
        // the run's own error says more
      }
      throw e;
    } finally {
      await s.close();
    }
    s.p.lockFile.flush();
    return result;
  } finally {
    await runLock.release();
  }
}

/**
 * `repro --pull`: place the recorded outputs of the selection (and its upstream) that are missing
 * here, from the remote, so that up-to-date stages and the deps stale ones read are there. What the
 * remote lacks is a warning: the stage that makes it runs (or is restored from the run cache).
 */
async function pullFirst(opts: ReproOptions, rep: Reporter, targets = opts.targets): Promise<void> {
  const { pull } = await import('./pull.js');
  const r = await pull({ cwd: opts.cwd, targets, jobs: opts.jobs, onWarning: rep.warn });
  for (const f of r.failed) rep.warn?.(oneLine(`pull: ${f.path}: ${f.reason}`));
}

/** The stages a shard's stage reads from, however far up: a worker needs them up to date or restorable. */
function upstreamOf(cfg: PipelineConfig, stage: string): string[] {
  return selectStages(cfg.dag, [stage]).filter((n) => n !== stage);
}

/**
 * `repro STAGE --shard K/N`: one worker of an engine's array. Runs only its partition of a per-item
 * stage whose upstream is up to date, and sends its records to the remote; `gather` folds them.
 */
async function reproShard(opts: ReproOptions, cfg: PipelineConfig, rep: Reporter): Promise<ReproResult> {
  const shard = opts.shard!;
  const stage = shardTarget(opts, cfg);
  const remote = configuredRemote(cfg);
  const { noRemote, openRemote } = await import('../store/remote.js');
  if (!remote) throw noRemote();
  const git = await gitInfo(cfg.root);
  const commit = git.commit;
  if (!commit) throw new DvclError('config', '--shard needs a git commit: workers and gather meet at one', { exit: 2, suggestions: ['commit the pipeline, then start the workers at that commit'] });
  const upstream = upstreamOf(cfg, stage.name);
  const upstreamPulled = upstream.length > 0 && (opts.pull || cfg.settings.run_cache === 'pull');
  if (upstreamPulled) await pullFirst(opts, rep, upstream);
  return underRunLock(opts, cfg, rep, { ...opts, single: true, downstream: false }, async (s) => {
    refuseStaleUpstream(s, upstream);
    // The run's git state is the one just read, before anything was written (as ensureRun wants), unless --pull placed files since.
    if (!upstreamPulled) s.gitAtStart = git;
    const store = await openRemote(remote.url, remote.options, { cwd: remoteBase(remote, cfg.root) });
    const listing = listPartition(s, stage, shard);
    const { ShardRun } = await import('../run/shard-worker.js');
    s.shard = new ShardRun(shard, commit, store, listing.items, (m) => rep.warn?.(m));
    try {
      return { ...(await runSelected(s, [stage.name])), shard: shardText(shard) };
    } finally {
      await s.shard.close();
    }
  });
}

/** `repro STAGE --shard K/N --dry-run`: the worker's refusals, then its partition's plan; nothing pulled or uploaded. */
async function planShard(s: RunSession, opts: ReproOptions, cfg: PipelineConfig, rep: Reporter): Promise<ReproResult> {
  const shard = opts.shard!;
  const stage = shardTarget(opts, cfg);
  if (!configuredRemote(cfg)) throw (await import('../store/remote.js')).noRemote();
  const upstream = upstreamOf(cfg, stage.name);
  // With --pull the worker fetches upstream outputs first: the plan cannot know what that brings.
  if (!opts.pull && cfg.settings.run_cache !== 'pull') refuseStaleUpstream(s, upstream);
  const listing = listPartition(s, stage, shard);
  const r = planDryRun(s, [stage.name]);
  const items = r.stages[0]?.items;
  rep.info?.(`shard ${shardText(shard)} (${shard.source === 'flag' ? '--shard' : shard.source}): ${s.listed.get(stage.name)!.items.length} of ${listing.items.length} items, ${items?.ran ?? 0} to run (dry run)`);
  return { ...r, shard: shardText(shard) };
}

/** Every item of the stage (the fragment's item set); the session evaluates only the shard's, a partition. */
function listPartition(s: RunSession, stage: StageConfig, shard: Shard): ItemListing {
  const listing = checkItemOutputs(s.p.cfg.root, stage);
  s.listed.set(stage.name, { ...listing, items: listing.items.filter((i) => inShard(i, shard)), partition: true });
  return listing;
}

/** The one per-item stage `--shard` names. */
function shardTarget(opts: ReproOptions, cfg: PipelineConfig): StageConfig {
  const targets = opts.targets ?? [];
  const stage = targets.length === 1 ? cfg.stages.find((st) => st.name === targets[0]) : undefined;
  if (!stage) throw new DvclError('config', '--shard runs one per-item stage: name it (dvcl repro STAGE --shard K/N)', { exit: 2 });
  if (!stage.foreach) throw new DvclError('config', `--shard: stage ${stage.name} has no foreach: only a per-item stage's items can be split`, { exit: 2 });
  return stage;
}

/** Every worker would compute a stale upstream stage again: refused, exit 2. */
function refuseStaleUpstream(s: RunSession, upstream: string[]): void {
  const stale = computeStatus(s.ctx, upstream).stages.filter((st) => st.state === 'stale' || st.state === 'failed');
  if (!stale.length) return;
  const names = stale.map((st) => st.name).join(', ');
  throw new DvclError('config', `--shard: upstream ${stale.length > 1 ? 'stages' : 'stage'} ${names} ${stale.length > 1 ? 'are' : 'is'} not up to date: every worker would compute ${stale.length > 1 ? 'them' : 'it'} again`, {
    exit: 2, suggestions: [`run dvcl repro ${names}, commit and dvcl push before starting the workers`, 'or pass --pull when its outputs are on the remote'],
  });
}
