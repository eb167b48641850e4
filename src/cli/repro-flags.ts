import { Flags } from '@oclif/core';

export const jobsFlag = Flags.integer({ char: 'j', min: 1, description: 'parallel stages/items (default: settings.jobs or the number of CPUs)' });
export const dryRunFlag = Flags.boolean({ char: 'n', description: 'print what would run and why; write nothing' });
export const noRunCacheFlag = Flags.boolean({ description: 'run stale stages even when the run cache holds a run with the same inputs' });
export const pullFlag = Flags.boolean({ description: 'fetch missing recorded outputs and recorded runs from the remote instead of running' });
export const shardFlag = Flags.string({ description: 'run only this partition of the named per-item stage\'s items, and upload what it records (see gather): K/N (1-based), auto/N or auto (from the job engine\'s index)' });

/** `--shard`'s value, parsed only when given (the shard module stays unloaded otherwise). */
export async function shardOption(value: string | undefined): Promise<{ shard?: import('../core/run/shard.js').Shard }> {
  return value === undefined ? {} : { shard: (await import('../core/run/shard.js')).parseShard(value) };
}
