import { describe, expect, it } from 'vitest';
import { forEachLimit, Limiter, mapLimit } from '../../src/core/store/pool.js';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('forEachLimit / mapLimit', () => {
  it('never runs more than the limit at once, and keeps results in order', async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimit(Array.from({ length: 40 }, (_, i) => i), 4, async (i) => {
      most = Math.max(most, ++running);
      await tick(i % 3);
      running--;
      return i * 2;
    });
    expect(most).toBe(4);
    expect(out).toEqual(Array.from({ length: 40 }, (_, i) => i * 2));
  });

  it('after a failure starts nothing more, waits for the calls in flight, then throws the first error', async () => {
    const started: number[] = [];
    const finished: number[] = [];
    const run = forEachLimit(Array.from({ length: 100 }, (_, i) => i), 3, async (i) => {
      started.push(i);
      await tick(i === 1 ? 1 : 10);
      if (i === 1) throw new Error('first');
      if (i === 0) throw new Error('second');
      finished.push(i);
    });
    await expect(run).rejects.toThrow('first');
    expect(started).toEqual([0, 1, 2]);
    expect(finished).toEqual([2]);
  });

  it('treats a limit below 1 as 1, and an empty list as done', async () => {
    const seen: number[] = [];
    await forEachLimit([1, 2], 0, async (i) => void seen.push(i));
    expect(seen).toEqual([1, 2]);
    await forEachLimit([], 8, async () => { throw new Error('never'); });
  });
});

describe('Limiter', () => {
  it('never runs more than its limit at once, even with calls arriving as others end; a failure frees its place', async () => {
    const limiter = new Limiter(3);
    let running = 0;
    let most = 0;
    const calls: Promise<unknown>[] = [];
    const call = (i: number) => limiter.run(async () => {
      most = Math.max(most, ++running);
      await tick(i % 4);
      running--;
      if (i % 7 === 0) throw new Error(`call ${i}`);
      return i;
    });
    for (let i = 0; i < 30; i++) {
      calls.push(call(i));
      if (i % 5 === 0) await tick(1); // some arrive while earlier ones finish
    }
    const results = await Promise.allSettled(calls);
    expect(most).toBe(3);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(5);
    expect(results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value)).toEqual(Array.from({ length: 30 }, (_, i) => i).filter((i) => i % 7 !== 0));
  });
});
