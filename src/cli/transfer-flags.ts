import { Flags } from '@oclif/core';

/** push and pull: where to, and how many transfers at once. */
export const remoteFlag = Flags.string({ char: 'r', description: 'the remote: s3://bucket/prefix, file:///path or a folder (over settings.remote)' });
export const transferJobsFlag = Flags.integer({ char: 'j', min: 1, description: 'transfers at once (default: remote_options.jobs, or 16 for S3 and 8 for a folder)' });
