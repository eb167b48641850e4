import { Flags } from '@oclif/core';

export const jobsFlag = Flags.integer({ char: 'j', min: 1, description: 'parallel stages/items (default: settings.jobs or the number of CPUs)' });
export const dryRunFlag = Flags.boolean({ char: 'n', description: 'print what would run and why; write nothing' });
export const noRunCacheFlag = Flags.boolean({ description: 'run stale stages even when the run cache holds a run with the same inputs' });
export const pullFlag = Flags.boolean({ description: 'fetch missing recorded outputs and recorded runs from the remote instead of running' });
