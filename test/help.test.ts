import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { dvclSpawn } from './helpers/cli.js';

// Help needs no project: run it in an empty folder.
const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-help-')));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const help = (args: string[]) => dvclSpawn(dir, [...args, '--help']).done;

const pkg = JSON.parse(fs.readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../package.json'), 'utf8'));

const COMMANDS: [string, string][] = [
  ['init', 'Set up dvcl in this folder'],
  ['dag', 'Show the pipeline as a graph of stages'],
  ['status', 'Say which stages are stale and why'],
  ['repro', 'Bring stages up to date, running only what changed'],
  ['retry', 'Re-run only what failed: failed items and failed stages'],
  ['prune', 'Forget deleted inputs and removed stages'],
  ['log', 'Show which commits changed each stage, newest first'],
  ['diff', 'Show what changed in the pipeline between two revisions'],
  ['params diff', 'Show the params that changed between two revisions'],
  ['completion', 'Print a shell completion script for bash, zsh or fish'],
  ['push', 'Upload recorded outputs to the remote'],
  ['pull', 'Download recorded outputs from the remote'],
  ['checkout', 'Restore recorded outputs from the local cache'],
  ['gc', 'Delete stored objects that nothing refers to'],
  ['import', "Write a .pipelinerc from DVC's dvc.yaml"],
];

describe.concurrent('--help', () => {
  for (const [cmd, summary] of COMMANDS) {
    it(`dvcl ${cmd} --help: summary, usage, examples`, async () => {
      const r = await help(cmd.split(' '));
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.split('\n')[0]).toBe(summary);
      expect(r.stdout).toContain(`\nUSAGE\n  $ dvcl ${cmd}`);
      expect(r.stdout).toMatch(new RegExp(`\\nEXAMPLES\\n {2}\\$ dvcl ${cmd}\\b`));
      // oclif wraps descriptions itself: a line broken by hand in the source shows as a short
      // line in the middle of a paragraph.
      const description = r.stdout.split('\nDESCRIPTION\n')[1].split('\nEXAMPLES\n')[0].trimEnd();
      for (const para of description.split('\n\n')) {
        for (const line of para.split('\n').slice(0, -1)) expect(line.length, line).toBeGreaterThan(50);
      }
    });
  }

  it('dvcl --help: summary and the commands', async () => {
    const r = await help([]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe(pkg.description);
    for (const [cmd, summary] of COMMANDS.filter(([c]) => !c.includes(' '))) expect(r.stdout).toMatch(new RegExp(`^ {2}${cmd} +${summary}`, 'm'));
    expect(r.stdout).toMatch(/^TOPICS\n {2}params +Compare the params recorded in pipeline\.lock$/m); // `params diff` is under its topic
  });

  // oclif's root help has no examples; src/cli/help.ts adds them once package.json names it.
  it.skipIf(!pkg.oclif?.helpClass)('dvcl --help: examples', async () => {
    const r = await help([]);
    expect(r.stdout).toMatch(/\nEXAMPLES\n[\s\S]*\$ dvcl init\n[\s\S]*\$ dvcl repro\n/);
  });
});
