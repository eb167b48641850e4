import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, dvcl } from './helpers/cli.js';
import { cleanupRepos, pipelineRepo } from './helpers/pipeline.js';

// Issue 12, CLI habits: what dvcl does to its own output must not leak into the commands it runs,
// and a terminal that cannot move the cursor gets no escape codes.

afterEach(cleanupRepos);

const ITEMS = `version: 1
stages:
  s:
    foreach: in/*.txt
    out: o/\${name}
    cmd: cp \${item} \${out}
  env:
    cmd: printf '%s|%s' "\${FORCE_COLOR-unset}" "\${NO_COLOR-unset}" > env.txt
    outs: [env.txt]
`;
const FILES = { 'in/1.txt': '1\n', 'in/2.txt': '2\n', 'in/3.txt': '3\n' };

describe('the environment of stage commands', () => {
  it("is the user's: --json and NO_COLOR turn dvcl's colour off, not the commands' (12.18)", async () => {
    const repo = await pipelineRepo(ITEMS, FILES);
    expect(repo.run('repro', 'env', '--json').code).toBe(0);
    expect(repo.read('env.txt')).toBe('unset|1');
    const r = dvcl(repo.dir, ['repro', 'env', '-f', '--json'], { env: { FORCE_COLOR: '3' } });
    expect(r.code, r.stderr).toBe(0);
    expect(repo.read('env.txt')).toBe('3|1');
  });
});

describe('progress on a terminal', () => {
  /** `dvcl repro` on a pseudo-terminal (util-linux `script`), as a person at a terminal runs it. */
  function onTerminal(dir: string, term: string): string {
    const r = spawnSync('script', ['-qec', `${process.execPath} ${BIN} repro -f`, '/dev/null'], {
      cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: term, LANG: 'C.UTF-8' },
    });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  }

  it('draws a live bar where the terminal can, and sends no escape code with TERM=dumb (12.18)', async () => {
    const repo = await pipelineRepo(ITEMS, FILES);
    expect(onTerminal(repo.dir, 'xterm')).toMatch(/\x1b\[K\[#+/);
    const dumb = onTerminal(repo.dir, 'dumb');
    expect(dumb).toMatch(/s: 3\/3 items/);
    expect(dumb).not.toMatch(/\x1b/);
  });
});
