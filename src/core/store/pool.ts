/** `fn` over `items`, at most `limit` in flight; after the first rejection none starts, and it is thrown. */
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
