import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
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

describe('what people type from other CLIs (12.17)', () => {
  it('-h, help COMMAND and -v work as --help and --version', async () => {
    const repo = await pipelineRepo(ITEMS, FILES);
    const version = dvcl(repo.dir, ['--version']);
    expect(dvcl(repo.dir, ['-v']).stdout).toBe(version.stdout);
    expect(version.stdout).toMatch(/^dvcl\/\d+\.\d+\.\d+ /);
    const help = dvcl(repo.dir, ['repro', '--help']).stdout;
    expect(help).toMatch(/^Bring stages up to date/);
    for (const args of [['repro', '-h'], ['help', 'repro'], ['-h', 'repro']]) {
      const r = dvcl(repo.dir, args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toBe(help);
    }
    expect(dvcl(repo.dir, ['help']).stdout).toBe(dvcl(repo.dir, ['--help']).stdout);
  });

  it('a mistyped command or flag: exit 2 and the closest name, as JSON too under --json', async () => {
    const repo = await pipelineRepo(ITEMS, FILES);
    const cmd = dvcl(repo.dir, ['statsu']);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toBe('Error: unknown command "statsu"\n  hint: did you mean "status"?\n');
    const asJson = dvcl(repo.dir, ['statsu', '--json']);
    expect(asJson.code).toBe(2);
    expect(JSON.parse(asJson.stdout)).toEqual({ error: { code: 'unknown_command', message: 'unknown command "statsu"', suggestions: ['did you mean "status"?'] }, exit: 2 });
    const flag = dvcl(repo.dir, ['repro', '--dry']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toBe('Error: Nonexistent flag: --dry\n  hint: did you mean `--dry-run`?\n');
    expect(repo.exists('pipeline.lock')).toBe(false);
  });

  it('completion: commands, their flags and the stages of the project in bash', async () => {
    const repo = await pipelineRepo(ITEMS, FILES);
    const script = dvcl(repo.dir, ['completion', 'bash']);
    expect(script.code, script.stderr).toBe(0);
    repo.write('.dvcl-bin/dvcl', `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"\n`);
    fs.chmodSync(path.join(repo.dir, '.dvcl-bin/dvcl'), 0o755);
    repo.write('complete.sh', script.stdout);
    const complete = (line: string) => {
      const words = line.split(' ');
      const r = spawnSync('bash', ['-c', `source ./complete.sh; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _dvcl; printf '%s\\n' "\${COMPREPLY[@]}"`], {
        cwd: repo.dir, encoding: 'utf8', env: { PATH: `${path.join(repo.dir, '.dvcl-bin')}:${process.env.PATH}`, HOME: process.env.HOME },
      });
      return r.stdout.split('\n').filter(Boolean).sort();
    };
    expect(complete('dvcl st')).toEqual(['status']);
    expect(complete('dvcl repro --dr')).toEqual(['--dry-run']);
    expect(complete('dvcl repro ')).toEqual(['env', 's']);
    expect(complete('dvcl par')).toEqual(['params']); // a topic: its commands come second
    expect(complete('dvcl params ')).toEqual(['diff']);
    expect(complete('dvcl params diff --m')).toEqual(['--md']);
    expect(dvcl(repo.dir, ['completion', 'zsh']).stdout).toMatch(/bashcompinit/);
    expect(dvcl(repo.dir, ['completion', 'fish']).stdout).toMatch(/complete -c dvcl -n '__fish_seen_subcommand_from repro' -l dry-run/);
  });
});
