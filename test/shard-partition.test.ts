import { describe, expect, it } from 'vitest';
import { inShard, parseShard, shardOf } from '../src/core/run/shard.js';
import { DvclError } from '../src/core/errors.js';

const items = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `data/in/file-${from + i}.txt`);

describe('shard membership', () => {
  it('puts every item in exactly one shard, roughly evenly', () => {
    const all = items(2000);
    const counts = [0, 0, 0, 0];
    for (const it of all) {
      const owners = [1, 2, 3, 4].filter((k) => inShard(it, { index: k, count: 4 }));
      expect(owners).toHaveLength(1);
      counts[owners[0] - 1]++;
    }
    for (const c of counts) expect(c).toBeGreaterThan(400);
  });

  it('does not move an item when others are added', () => {
    const before = new Map(items(500).map((i) => [i, shardOf(i, 8)]));
    const after = [...items(500), ...items(300, 10_000)];
    for (const i of after) if (before.has(i)) expect(shardOf(i, 8)).toBe(before.get(i));
  });
});

describe('--shard K/N', () => {
  const bad = (spec: string, env: NodeJS.ProcessEnv = {}) => {
    try {
      parseShard(spec, env);
    } catch (e) {
      expect(e).toBeInstanceOf(DvclError);
      expect((e as DvclError).exit).toBe(2);
      return (e as Error).message;
    }
    throw new Error(`accepted ${spec}`);
  };

  it('accepts 1..N and refuses the rest with exit 2', () => {
    expect(parseShard('3/4', {})).toMatchObject({ index: 3, count: 4 });
    expect(bad('0/4')).toMatch(/between 1 and 4/);
    expect(bad('5/4')).toMatch(/between 1 and 4/);
    expect(bad('x/y')).toMatch(/not a whole number/);
    expect(bad('3')).toMatch(/not K\/N/);
    expect(bad('auto/4')).toMatch(/no engine index/);
  });

  it('reads each engine\'s index (0-based) and count', () => {
    expect(parseShard('auto/8', { JOB_COMPLETION_INDEX: '0' })).toMatchObject({ index: 1, count: 8 });
    expect(bad('auto', { JOB_COMPLETION_INDEX: '2' })).toMatch(/pass it \(--shard auto\/N\)/);
    expect(parseShard('auto', { SLURM_ARRAY_TASK_ID: '7', SLURM_ARRAY_TASK_MIN: '5', SLURM_ARRAY_TASK_COUNT: '4' })).toMatchObject({ index: 3, count: 4 });
    expect(parseShard('auto', { AWS_BATCH_JOB_ARRAY_INDEX: '9', AWS_BATCH_JOB_ARRAY_SIZE: '10' })).toMatchObject({ index: 10, count: 10 });
    expect(bad('auto/4', { AWS_BATCH_JOB_ARRAY_INDEX: '4' })).toMatch(/between 1 and 4/);
  });
});
