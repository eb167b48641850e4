import { execSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cliEnv } from './helpers/cli.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// Issue 12.22: the first five minutes. `npm run demo` ends with commands a newcomer can paste.
describe('npm run demo', () => {
  it('runs the quickstart and ends with a next command that works as printed', () => {
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'scripts/demo.js')], { cwd: repoRoot, encoding: 'utf8', env: cliEnv() });
    expect(r.status, r.stderr).toBe(0);
    const dir = /^ {2}cd (.+)$/m.exec(r.stdout)?.[1];
    expect(dir, r.stdout).toBeDefined();
    try {
      const status = /^ {2}(node .+ status)\b/m.exec(r.stdout)?.[1];
      expect(status, r.stdout).toBeDefined();
      // As pasted into a shell, from the folder the demo was run in.
      const out = execSync(`cd ${JSON.stringify(dir)} && ${status!.replace(/^node /, `${JSON.stringify(process.execPath)} `)}`, { cwd: repoRoot, encoding: 'utf8', env: cliEnv() });
      expect(out).toMatch(/up to date/i);
    } finally {
      fs.rmSync(dir!, { recursive: true, force: true });
    }
  });
});
