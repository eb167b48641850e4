/**
 * Run `fn` over `items` with at most `limit` calls in flight (`-j`). After the first rejection no
 * further item is started; the calls in flight are awaited, then that first error is thrown. Items
 * are taken from the iterable as workers free up, so a lazy iterable is never read far ahead.
 */
export async function forEachLimit<T>(items: Iterable<T>, limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  const it = items[Symbol.iterator]();
  let index = 0;
  let failed = false;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (!failed) {
      const next = it.next();
      if (next.done) return;
      try {
        await fn(next.value, index++);
      } catch (err) {
        if (!failed) firstError = err;
        failed = true;
      }
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < Math.max(1, Math.floor(limit)); i++) workers.push(worker());
  await Promise.all(workers);
  if (failed) throw firstError;
}

/** {@link forEachLimit} collecting each call's result at its item's index. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  await forEachLimit(items, limit, async (item, i) => {
    out[i] = await fn(item, i);
  });
  return out;
}
