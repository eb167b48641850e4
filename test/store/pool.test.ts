import { describe, expect, it } from 'vitest';
import { forEachLimit, mapLimit } from '../../src/core/store/pool.js';

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
