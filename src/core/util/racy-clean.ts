// When a file's stat can be trusted to describe its content: git's racy-clean rule.

/** The widest racy window of settled(): a ctime older than this is settled whatever its unit. */
export const SETTLED_AFTER = 2_000_000_000n;

/*
 * Racy-clean (as git's index): a file changed again within the same timestamp tick as the stat we
 * recorded keeps the same stat, so an entry is trusted only when its ctime (which covers content
 * and utimes changes alike) lies a full tick before the moment it was hashed. Ticks: Linux stamps
 * files from a clock that advances per jiffy (<= 10 ms); FAT has 2 s, ext3/HFS+ 1 s. A ctime whose
 * ns part is 0 may come from a whole-second filesystem, one ending in zeros from a 10 or 100 ms one:
 * the window is twice the coarsest unit the ctime could have been rounded to, at least 20 ms.
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

/** Now, in ns since the epoch (at ms resolution), as file times are compared. */
export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}
