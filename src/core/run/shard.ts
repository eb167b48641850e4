// `repro --shard K/N`: which items one worker of an engine's array runs. Membership is a stable
// hash of the item's path, so adding or removing inputs never moves the other items.
import { createHash } from 'node:crypto';
import { DvclError } from '../errors.js';

/** One worker's partition: `index` is 1-based, `source` says where it came from. */
export interface Shard { index: number; count: number; source: string }

const usage = (msg: string) => new DvclError('config', msg, { exit: 2, suggestions: ['--shard K/N with 1 <= K <= N (e.g. --shard 2/8), or --shard auto/N (or auto) inside an engine\'s array job'] });

function positive(text: string, what: string): number {
  if (!/^[0-9]+$/.test(text)) throw usage(`--shard: ${what} ${JSON.stringify(text)} is not a whole number`);
  return Number(text);
}

/** The engine's 0-based index and, where the engine says it, the number of workers. */
function engineIndex(env: NodeJS.ProcessEnv): { index: number; count?: number; source: string } | null {
  if (env.JOB_COMPLETION_INDEX !== undefined) return { index: positive(env.JOB_COMPLETION_INDEX, 'JOB_COMPLETION_INDEX'), source: 'JOB_COMPLETION_INDEX' };
  if (env.SLURM_ARRAY_TASK_ID !== undefined) {
    const min = env.SLURM_ARRAY_TASK_MIN === undefined ? 0 : positive(env.SLURM_ARRAY_TASK_MIN, 'SLURM_ARRAY_TASK_MIN');
    const count = env.SLURM_ARRAY_TASK_COUNT === undefined ? undefined : positive(env.SLURM_ARRAY_TASK_COUNT, 'SLURM_ARRAY_TASK_COUNT');
    return { index: positive(env.SLURM_ARRAY_TASK_ID, 'SLURM_ARRAY_TASK_ID') - min, count, source: 'SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN' };
  }
  if (env.AWS_BATCH_JOB_ARRAY_INDEX !== undefined) {
    const count = env.AWS_BATCH_JOB_ARRAY_SIZE === undefined ? undefined : positive(env.AWS_BATCH_JOB_ARRAY_SIZE, 'AWS_BATCH_JOB_ARRAY_SIZE');
    return { index: positive(env.AWS_BATCH_JOB_ARRAY_INDEX, 'AWS_BATCH_JOB_ARRAY_INDEX'), count, source: 'AWS_BATCH_JOB_ARRAY_INDEX' };
  }
  return null;
}

/** `K/N`, `auto/N` or `auto`; an invalid spec, or auto outside an engine, is a usage error (exit 2). */
export function parseShard(spec: string, env: NodeJS.ProcessEnv = process.env): Shard {
  const m = /^([^/]+)(?:\/(.+))?$/.exec(spec.trim());
  if (!m) throw usage(`--shard: ${JSON.stringify(spec)} is not K/N`);
  const [, k, n] = m;
  if (k === 'auto') {
    const e = engineIndex(env);
    if (!e) throw usage('--shard auto: no engine index found (JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID, AWS_BATCH_JOB_ARRAY_INDEX)');
    const count = n === undefined ? e.count : positive(n, 'N');
    // Kubernetes sets no count variable: the Job's `completions` must be passed as N.
    if (count === undefined) throw usage(`--shard auto: ${e.source} gives the index but not the number of shards: pass it (--shard auto/N)`);
    return check(e.index + 1, count, `${e.source}=${e.index}`);
  }
  if (n === undefined) throw usage(`--shard: ${JSON.stringify(spec)} is not K/N`);
  return check(positive(k, 'K'), positive(n, 'N'), 'flag');
}

function check(index: number, count: number, source: string): Shard {
  if (count < 1) throw usage(`--shard: N must be at least 1 (got ${count})`);
  if (index < 1 || index > count) throw usage(`--shard: K must be between 1 and ${count} (got ${index}${source === 'flag' ? '' : ` from ${source}`})`);
  return { index, count, source };
}

/** The 1-based shard `item` belongs to among `count`: the first 8 bytes of its path's SHA-256, modulo count. */
export function shardOf(item: string, count: number): number {
  const h = createHash('sha256').update(item).digest();
  return Number(h.readBigUInt64BE(0) % BigInt(count)) + 1;
}

export function inShard(item: string, shard: Pick<Shard, 'index' | 'count'>): boolean {
  return shardOf(item, shard.count) === shard.index;
}

export function shardText(s: Pick<Shard, 'index' | 'count'>): string {
  return `${s.index}/${s.count}`;
}
