#!/usr/bin/env node
// chalk does not read NO_COLOR: turn colour off before anything imports it (SPEC §7).
if (process.env.NO_COLOR || process.env.TERM === 'dumb' || process.argv.includes('--json')) {
  process.env.FORCE_COLOR = '0';
}
const { execute } = await import('@oclif/core');
await execute({ dir: import.meta.url });
