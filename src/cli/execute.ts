import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { flush, handle, run as oclifRun } from '@oclif/core';
import { closest } from '../core/template.js';

// oclif finds package.json and oclif.manifest.json from bin/run.js's URL; scripts/bundle.js bundles this file with esbuild.
export async function run(dir: string): Promise<void> {
  const args = habits(process.argv.slice(2));
  try {
    await oclifRun(args, dir);
    await flush();
  } catch (error) {
    const unknown = /^command (\S+) not found$/.exec((error as Error).message ?? '');
    if (unknown) return unknownCommand(unknown[1], dir, args.includes('--json'));
    await handle(error as Error);
  }
}

/** What people type from other CLIs: `-h`, `help [COMMAND]`, `-v`. */
export function habits(argv: string[]): string[] {
  const end = argv.indexOf('--');
  const own = end < 0 ? argv : argv.slice(0, end);
  const rest = end < 0 ? [] : argv.slice(end);
  if (own[0] === 'help') return [...own.slice(1), '--help', ...rest];
  if (own.length === 1 && own[0] === '-v') return ['--version'];
  return [...own.map((a) => (a === '-h' ? '--help' : a)), ...rest];
}

/** A mistyped command: exit 2 with the closest name, as JSON too under --json. */
function unknownCommand(id: string, dir: string, json: boolean): void {
  const manifest = new URL('../oclif.manifest.json', dir);
  let names: string[] = [];
  try {
    names = Object.values(JSON.parse(fs.readFileSync(fileURLToPath(manifest), 'utf8')).commands as Record<string, { id: string; hidden?: boolean }>)
      .filter((c) => !c.hidden).map((c) => c.id);
  } catch { /* no manifest: no suggestion */ }
  const near = closest(id, names);
  const message = `unknown command "${id}"`;
  const suggestions = [near ? `did you mean "${near}"?` : 'see `dvcl --help` for the commands'];
  if (json) process.stdout.write(`${JSON.stringify({ error: { code: 'unknown_command', message, suggestions }, exit: 2 }, null, 2)}\n`);
  process.stderr.write(`Error: ${message}\n${suggestions.map((s) => `  hint: ${s}\n`).join('')}`);
  process.exitCode = 2;
}
