#!/usr/bin/env node
// chalk does not read NO_COLOR: turn colour off before anything imports it (SPEC §7).
// The commands dvcl runs get the user's own FORCE_COLOR back (src/core/user-env.ts).
if (process.env.NO_COLOR || process.env.TERM === 'dumb' || process.argv.includes('--json')) {
  globalThis[Symbol.for('dvcl.userForceColor')] = { value: process.env.FORCE_COLOR };
  process.env.FORCE_COLOR = '0';
}
// Past a file size limit (ulimit -f) a write must fail with EFBIG, which dvcl reports with the
// previous file intact. Node ignores SIGXFSZ, but signal-exit (under proper-lockfile) re-raises
// it when it is the only listener, killing dvcl mid-save.
process.on('SIGXFSZ', () => {});
// dist/cli/boot.js answers --version itself and loads the CLI, bundled by `npm run build`, with a V8 code cache.
const { boot } = await import('../dist/cli/boot.js');
await boot(import.meta.url);
