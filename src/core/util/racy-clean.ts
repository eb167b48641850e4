// When a file's stat can be trusted to describe its content: git's racy-clean rule.

export const SETTLED_AFTER = 2_000_000_000n;

// A file changed again within the tick of its recorded stat keeps that stat: trusted only when its ctime
// lies a full tick before it was hashed. Ticks: a jiffy (Linux), 1 s (ext3/HFS+), 2 s (FAT); twice the coarsest.
export function settled(ctimeNs: bigint, at: bigint): boolean {
  if (at - ctimeNs > SETTLED_AFTER) return true; // older than the widest window: the common case, decided cheaply
  const frac = ctimeNs % 1_000_000_000n;
  let unit = 1n;
  if (frac === 0n) unit = 1_000_000_000n;
  else while (unit < 100_000_000n && frac % (unit * 10n) === 0n) unit *= 10n;
  const window = unit * 2n > 20_000_000n ? unit * 2n : 20_000_000n;
  return ctimeNs < at - window;
}

export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}
