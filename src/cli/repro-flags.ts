import { Flags } from '@oclif/core';

export const jobsFlag = Flags.integer({ char: 'j', min: 1, description: 'parallel stages/items (default: settings.jobs or the number of CPUs)' });
export const dryRunFlag = Flags.boolean({ char: 'n', description: 'print what would run and why; write nothing' });
