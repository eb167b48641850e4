import { Flags } from '@oclif/core';

/** Every command taking STAGE targets: they name stages, out paths, or (with this flag) patterns over stage names. */
export const globFlag = Flags.boolean({ description: "targets are glob patterns over stage names ('train-*'); quote them from the shell" });
