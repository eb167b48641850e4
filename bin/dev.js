#!/usr/bin/env node
// Development entry: runs the TypeScript sources through a loader when one is installed;
// otherwise build first (`npm run build`) and use bin/run.js.
const { execute } = await import('@oclif/core');
await execute({ development: true, dir: import.meta.url });
