// When a file's stat can be trusted to describe its content: git's racy-clean rule.

/** The widest window of settled(): a ctime older than this is settled whatever its unit. */
export const SETTLED_AFTER = 2_000_000_000n;

/*
 * A file changed again within the timestamp tick of the recorded stat keeps that stat, so an entry
 * is trusted only when its ctime (content and utimes changes alike) lies a full tick before it was
 * hashed. Linux ticks per jiffy (<= 10 ms), ext3/HFS+ 1 s, FAT 2 s: a ctime ending in zeros may be
 * rounded to that unit, so the window is twice the coarsest unit it could have, at least 20 ms.
 */
export function settled(ctimeNs: bigint, at: bigint): boolean {
  if (at - ctimeNs > SETTLED_AFTER) return true; // older than the widest window: the common case, decided cheaply
  const frac = ctimeNs % 1_000_000_000n;
  let unit = 1n;
  if (frac === 0n) unit = 1_000_000_000n;
  else while (unit < 100_000_000n && frac % (unit * 10n) === 0n) unit *= 10n;
  const window = unit * 2n > 20_000_000n ? unit * 2n : 20_000_000n;
  return ctimeNs < at - window;
}

/** In ns since the epoch (at ms resolution), as file times are compared. */
export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}
