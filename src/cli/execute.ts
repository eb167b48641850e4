import { execute } from '@oclif/core';

/**
 * The CLI: oclif over this package's commands. bin/run.js calls it with its own URL, from which
 * oclif finds package.json and oclif.manifest.json. `npm run build` bundles this file, the commands
 * and everything they import (oclif included) with esbuild: see scripts/bundle.js.
 */
export async function run(dir: string): Promise<void> {
  await execute({ dir });
}
