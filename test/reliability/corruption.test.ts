import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeFileAtomicSync } from '../../src/core/util/atomic-write.js';
import { Manifest } from '../../src/core/ledger/manifest.js';
import { status } from '../../src/core/services/status.js';
import { BIN, cliEnv, dvcl, json, type CliResult } from '../helpers/cli.js';
import { gitRepo } from '../helpers/git-repo.js';
import { figure, lines, rng, scratch, STACK, tree } from './support.js';

// Issue 7, corruption: a damaged .manifest.json or pipeline.lock, a write that fails half-way, a
// read-only project. Every case ends in one clear message and the documented exit code, and what
// was good before is still there byte for byte; nothing is run on top of a state dvcl cannot read.

const RC = `version: 1
stages:
  copy:
    foreach: in/*.txt
    out: out/\${stem}.out
    cmd: cp \${item} \${out} && echo \${item} >> "$RELI_CTL/ran.log"
  sum:
    cmd: cat out/*.out > sum.txt && echo sum >> "$RELI_CTL/ran.log"
    deps: [out]
    outs: [sum.txt]
`;

const realWriteSync = fs.writeSync;
const work = scratch('dvcl-reli-corrupt-');
fs.chmodSync(work.dir, 0o755); // the read-only cases run dvcl as another user, who must reach the projects
afterAll(() => work.cleanup());
let template = '';
let n = 0;

/**
 * The template: a project run twice (items a, b; then c added), so `.manifest.json` holds three
 * items and `.manifest.json.bak` the two of the first run.
 */
beforeAll(async () => {
  const repo = await gitRepo({ '.pipelinerc': RC, '.gitignore': '.dvcl/\n', 'in/a.txt': 'a\n', 'in/b.txt': 'b\n' });
  const env = { RELI_CTL: work.dir };
  expect(dvcl(repo.dir, ['repro'], { env }).code).toBe(0);
  repo.write('in/c.txt', 'c\n');
  expect(dvcl(repo.dir, ['repro'], { env }).code).toBe(0);
  template = path.join(work.dir, 'template');
  fs.cpSync(repo.dir, template, { recursive: true });
  repo.cleanup();
  fs.rmSync(path.join(work.dir, 'ran.log'));
}, 120_000);

interface Case { dir: string; env: Record<string, string>; ran: () => string[]; run: (...args: string[]) => CliResult; snapshot: () => Record<string, string> }

/** A fresh copy of the template, with its own log of what ran. */
function copy(): Case {
  const dir = path.join(work.dir, `case-${n++}`);
  fs.cpSync(template, dir, { recursive: true });
  const ctl = path.join(dir, '.dvcl', 'ctl');
  fs.mkdirSync(ctl, { recursive: true });
  const env = { RELI_CTL: ctl };
  return {
    dir,
    env,
    ran: () => lines(path.join(ctl, 'ran.log')),
    run: (...args) => dvcl(dir, args, { env }),
    // Everything a user owns: committed files and outs (not .dvcl/, dvcl's own cache and logs).
    snapshot: () => tree(dir, (rel) => rel === '.git' || rel === '.dvcl'),
  };
}

const garbage = (seed: number): Buffer => {
  const r = rng(seed);
  return Buffer.from(Array.from({ length: 700 }, () => r.int(0, 255)));
};

const MANIFEST_DAMAGE: Record<string, (good: string) => string | Buffer> = {
  truncated: (good) => good.slice(0, Math.floor(good.length / 2)),
  empty: () => '',
  binary: () => garbage(7),
  'wrong version': (good) => good.replace('"version": 1', '"version": 2'),
  'hand-edited, wrong shape': (good) => good.replace(/"status": "success"/, '"status": "maybe"'),
};

describe('.manifest.json damaged', () => {
  for (const [kind, damage] of Object.entries(MANIFEST_DAMAGE)) {
    it(`${kind}, with a good backup: read from the backup, restored by the next run; or refused when it is another version`, () => {
      const c = copy();
      const file = path.join(c.dir, '.manifest.json');
      const bad = damage(fs.readFileSync(file, 'utf8'));
      fs.writeFileSync(file, bad);
      const before = c.snapshot();

      const st = c.run('status', '--json');
      expect(st.stderr).not.toMatch(STACK);
      expect(c.snapshot(), 'status writes nothing').toEqual(before);
      const rep = c.run('repro', '--no-run-cache');
      expect(rep.stderr).not.toMatch(STACK);
      if (kind === 'wrong version') {
        for (const r of [st, rep]) {
          expect(r.code, r.stderr).toBe(2);
          expect(r.stderr).toMatch(/^Error: \.manifest\.json: .*version.*left untouched/m);
          expect(r.stderr).toMatch(/hint: upgrade dvcl/);
        }
        expect(c.snapshot(), 'nothing changed').toEqual(before);
        expect(c.ran()).toEqual([]);
        return;
      }
      expect(st.code, st.stderr).toBe(0);
      expect(st.stderr).toMatch(/\.manifest\.json\.bak/);
      expect(json(st).stages[0].items).toMatchObject({ total: 3, success: 2, pending: 1 });
      expect(rep.code, rep.stderr).toBe(0);
      expect(rep.stderr).toMatch(/restored it from \.manifest\.json\.bak/);
      expect(c.ran(), 'the items of the backup are not run again').toEqual(['in/c.txt']);
      const aside = fs.readdirSync(c.dir).filter((f) => f.startsWith('.manifest.json.corrupt-'));
      if (kind === 'empty') expect(aside).toEqual([]);
      else expect(fs.readFileSync(path.join(c.dir, aside[0]))).toEqual(Buffer.from(bad));
      expect(c.run('status', '--check').code).toBe(0);
    });

    it(`${kind}, without a backup: exit 2 and nothing touched (an empty file starts afresh, with a warning)`, () => {
      const c = copy();
      const file = path.join(c.dir, '.manifest.json');
      fs.rmSync(`${file}.bak`);
      fs.writeFileSync(file, damage(fs.readFileSync(file, 'utf8')));
      const before = c.snapshot();
      const st = c.run('status');
      const rep = c.run('repro', '--no-run-cache');
      for (const r of [st, rep]) expect(r.stderr).not.toMatch(STACK);
      if (kind === 'empty') {
        // dvcl never writes an empty manifest, so there is nothing in it to lose; the items run again.
        expect(st.code, st.stderr).toBe(0);
        expect(st.stderr).toMatch(/\.manifest\.json is empty and has no usable backup/);
        expect(rep.code, rep.stderr).toBe(0);
        expect(c.ran().sort()).toEqual(['in/a.txt', 'in/b.txt', 'in/c.txt']);
        return;
      }
      for (const r of [st, rep]) {
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr.split('\n')[0]).toMatch(/^Error: \.manifest\.json(: | is corrupt)/);
        expect(r.stderr).toMatch(/hint: (restore it from git|upgrade dvcl)/);
      }
      expect(c.snapshot(), 'nothing changed').toEqual(before);
      expect(c.ran()).toEqual([]);
    });
  }
});

/** Invisible or line-breaking characters other than the newline that ends each line. */
const INVISIBLE = /[\u0000-\u0009\u000b-\u001f\u007f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;

describe('.manifest.json with a BOM (an editor added it)', () => {
  it('otherwise valid: read as it is, no warning, nothing restored or run again; the next save drops the BOM', () => {
    const c = copy();
    const file = path.join(c.dir, '.manifest.json');
    fs.writeFileSync(file, `\ufeff${fs.readFileSync(file, 'utf8')}`);
    const st = c.run('status', '--json');
    expect(st.code, st.stderr).toBe(0);
    expect(st.stderr).toBe('');
    expect(json(st).stages[0].items).toMatchObject({ total: 3, success: 3, pending: 0 });
    fs.writeFileSync(path.join(c.dir, 'in/d.txt'), 'd\n');
    const rep = c.run('repro', '--no-run-cache');
    expect(rep.code, rep.stderr).toBe(0);
    expect(rep.stderr).not.toMatch(/warning/);
    expect(c.ran()).toEqual(['in/d.txt', 'sum']);
    expect(fs.readFileSync(file, 'utf8').charCodeAt(0)).toBe(0x7b); // `{`
    expect(fs.readdirSync(c.dir).filter((f) => f.includes('.corrupt-'))).toEqual([]);
  });

  it('corrupt as well: the warning and the error are one visible line each, the BOM and newlines escaped', () => {
    const c = copy();
    const file = path.join(c.dir, '.manifest.json');
    const good = fs.readFileSync(file, 'utf8');
    // Cut inside the first item's record: JSON.parse quotes the text around the error, newlines and all.
    fs.writeFileSync(file, `\ufeff${good.slice(0, good.indexOf('"attempts"'))}}}\n`);
    const warned = c.run('status');
    expect(warned.code, warned.stderr).toBe(0);
    expect(warned.stderr.split('\n').filter(Boolean)).toEqual([expect.stringMatching(/^warning: \.manifest\.json is unusable \(invalid JSON: .*\); reading its backup/)]);
    expect(warned.stderr).not.toMatch(INVISIBLE);

    fs.writeFileSync(file, `\ufeff{"version": 1, "stages": \u0007\n}`);
    fs.rmSync(`${file}.bak`);
    for (const r of [c.run('status'), c.run('repro')]) {
      expect(r.code, r.stderr).toBe(2);
      const [first, ...rest] = r.stderr.split('\n').filter(Boolean);
      expect(first).toMatch(/^Error: \.manifest\.json is corrupt \(invalid JSON: .*\) and there is no backup\.$/);
      expect(rest.every((l) => l.startsWith('  hint: ')), r.stderr).toBe(true);
      expect(r.stderr).not.toMatch(INVISIBLE);
      expect(first).toMatch(/\\u0007/);
    }
  });
});

const LOCK_DAMAGE: Record<string, (good: string) => string | Buffer> = {
  'truncated (inside a mapping)': (good) => good.slice(0, good.indexOf('git: {') + 'git: { commit'.length),
  binary: () => garbage(11),
  'wrong schema': (good) => good.replace('schema: 1', 'schema: 2'),
  'hand-edited: an entry is a number': () => 'schema: 1\nstages:\n  copy: 12\n',
  'hand-edited: stages is a list': () => 'schema: 1\nstages: [copy, sum]\n',
  'hand-edited: a dep without a hash': (good) => good.replace(/(\n +- path: [^\n]*\n) +hash: [^\n]*\n/, '$1'),
  'merge conflict markers': (good) => `<<<<<<< HEAD\n${good}=======\n${good}>>>>>>> theirs\n`,
  'an alias to nowhere': (good) => good.replace(/(\n  sum:\n    cmd: )[^\n]*/, '$1*nope'),
  'an alias bomb': (good) => `${aliasBomb('x')}${good}`,
};

/** Billion laughs: nine levels of nine aliases each, 9^9 strings if every alias were expanded. */
function aliasBomb(key: string): string {
  const levels = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
  return levels.map((l, i) => `${key}${l}: &${key}${l} [${i === 0 ? Array(9).fill('"lol"').join(', ') : Array(9).fill(`*${key}${levels[i - 1]}`).join(', ')}]\n`).join('');
}

describe('pipeline.lock damaged', () => {
  for (const [kind, damage] of Object.entries(LOCK_DAMAGE)) {
    it(`${kind}: exit 2 naming the file, with a hint; nothing runs, nothing is removed`, () => {
      const c = copy();
      const file = path.join(c.dir, 'pipeline.lock');
      const good = fs.readFileSync(file, 'utf8');
      const bad = damage(good);
      expect(bad).not.toEqual(good);
      fs.writeFileSync(file, bad);
      const before = c.snapshot();
      for (const args of [['status'], ['repro'], ['repro', '-f']]) {
        const r = c.run(...args);
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
        expect(r.stderr.split('\n')[0]).toMatch(/^Error: pipeline\.lock: \S/);
        // Mid-merge, `git checkout -- pipeline.lock` is refused (the path is unmerged): keep a side instead.
        expect(r.stderr).toMatch(kind.includes('conflict') ? /hint: it holds merge conflict markers: keep one side with `git checkout --ours -- pipeline\.lock`/ : /hint: restore it from git/);
        expect(r.stderr).not.toMatch(STACK);
      }
      expect(c.snapshot(), 'nothing changed').toEqual(before);
      expect(c.ran()).toEqual([]);
    });
  }

  it('empty: read as no lock, so every ordinary stage counts as never run; per-item stages keep their items', () => {
    const c = copy();
    fs.writeFileSync(path.join(c.dir, 'pipeline.lock'), '');
    const st = c.run('status', '--json');
    expect(st.code, st.stderr).toBe(0);
    const sum = json(st).stages.find((s: { name: string }) => s.name === 'sum');
    expect(sum.reasons).toContainEqual({ code: 'never_run' });
    const rep = c.run('repro', '--no-run-cache');
    expect(rep.code, rep.stderr).toBe(0);
    expect(c.ran()).toEqual(['sum']); // the items are recorded in the manifest: none runs again
    expect(c.run('status', '--check').code).toBe(0);
  });

  it('cut at any point: never a crash, and a stage whose entry lost a hash is never up to date', async () => {
    const c = copy();
    const file = path.join(c.dir, 'pipeline.lock');
    const good = fs.readFileSync(file, 'utf8');
    // Where each entry's staleness data ends: the newline after its last `hash:` line.
    const entries = [...good.matchAll(/^ {2}(\w+):\n/gm)].map((m, i, all) => {
      const end = i + 1 < all.length ? all[i + 1].index! : good.length;
      const body = good.slice(m.index!, end);
      const lastHash = body.lastIndexOf('hash: ');
      return { name: m[1], hashEnd: m.index! + body.indexOf('\n', lastHash) };
    });
    expect(entries.map((e) => e.name)).toEqual(['copy', 'sum']);
    const r = rng(3);
    const cuts = new Set<number>([0]);
    for (let i = 0; i < good.length; i++) if (good[i] === '\n') cuts.add(i + 1);
    for (let k = 0; k < 80; k++) cuts.add(r.int(1, good.length - 1));
    let refused = 0;
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      fs.writeFileSync(file, good.slice(0, cut));
      let report;
      try {
        report = await status({ cwd: c.dir, onWarning: () => {} });
      } catch (e) {
        expect((e as Error).name, `cut at ${cut}: ${(e as Error).stack}`).toBe('DvclError');
        expect((e as { exit: number }).exit, `cut at ${cut}`).toBe(2);
        expect((e as Error).message, `cut at ${cut}`).toMatch(/^pipeline\.lock: /);
        refused++;
        continue;
      }
      for (const e of entries) {
        const st = report.stages.find((s) => s.name === e.name)!;
        if (cut < e.hashEnd) expect(st.state, `cut at ${cut}: ${e.name}\n${good.slice(0, cut)}`).not.toBe('up_to_date');
      }
    }
    fs.writeFileSync(file, good);
    figure('lock-truncation', { cuts: cuts.size, refused, failures: 0 });
  });
});

describe('YAML aliases to nowhere and alias bombs, in every file dvcl reads', () => {
  // Each kind: how to damage the case's copy, and the file the message must name.
  const KINDS: Record<string, { file: string; damage: (c: Case, alias: 'nowhere' | 'bomb') => void }> = {
    'pipeline.lock': {
      file: 'pipeline.lock',
      damage: (c, alias) => edit(c, 'pipeline.lock', (t) => (alias === 'bomb' ? aliasBomb('x') + t : t.replace(/(\n  sum:\n    cmd: )[^\n]*/, '$1*nope'))),
    },
    '.manifest.json (no backup)': {
      file: '.manifest.json',
      damage: (c, alias) => {
        fs.rmSync(path.join(c.dir, '.manifest.json.bak'));
        edit(c, '.manifest.json', (t) => (alias === 'bomb' ? aliasBomb('x') + t : t.replace('"version": 1', '"version": *nope')));
      },
    },
    '.pipelinerc': {
      file: '.pipelinerc',
      damage: (c, alias) => edit(c, '.pipelinerc', (t) => (alias === 'bomb' ? t.replace('stages:', `${aliasBomb('x')}stages:`) : t.replace('deps: [out]', 'deps: *nope'))),
    },
    '.pipelinerc.local': {
      file: '.pipelinerc.local',
      damage: (c, alias) => fs.writeFileSync(path.join(c.dir, '.pipelinerc.local'), alias === 'bomb' ? `${aliasBomb('x')}settings: {jobs: 2}\n` : 'settings:\n  jobs: *nope\n'),
    },
    'a params file': {
      file: 'params.yaml',
      damage: (c, alias) => {
        edit(c, '.pipelinerc', (t) => t.replace('outs: [sum.txt]', 'outs: [sum.txt]\n    params: [p.x]'));
        fs.writeFileSync(path.join(c.dir, 'params.yaml'), alias === 'bomb' ? `${aliasBomb('x')}p: {x: 1}\n` : 'p:\n  x: *nope\n');
      },
    },
  };
  for (const [kind, { file, damage }] of Object.entries(KINDS)) {
    for (const alias of ['nowhere', 'bomb'] as const) {
      it(`${kind}, ${alias === 'bomb' ? 'an alias bomb' : 'an alias to nowhere'}: exit 2, one line naming the file${alias === 'nowhere' && file !== '.manifest.json' ? ' and the line' : ''}; nothing runs`, () => {
        const c = copy();
        damage(c, alias);
        const before = c.snapshot();
        for (const args of [['status'], ['status', '--json'], ['repro']]) {
          const r = c.run(...args);
          const what = `${args.join(' ')}: ${r.stderr}`;
          expect(r.code, what).toBe(2);
          expect(r.stderr, what).not.toMatch(/internal error/);
          expect(r.stderr, what).not.toMatch(STACK);
          const [first, ...rest] = r.stderr.split('\n').filter(Boolean);
          expect(first, what).toMatch(new RegExp(`^Error: ${file.replace(/\./g, '\\.')}[: ]`));
          expect(rest.every((l) => l.startsWith('  hint: ')), `the message is one line: ${what}`).toBe(true);
          if (alias === 'nowhere' && file !== '.manifest.json') expect(first, what).toMatch(/:\d+:\d+: |line \d+/); // JSON has no aliases: just invalid
          if (args.includes('--json')) expect(json(r)).toMatchObject({ exit: 2 });
        }
        expect(c.snapshot(), 'nothing changed').toEqual(before);
        expect(c.ran()).toEqual([]);
      });
    }
  }
});

function edit(c: Case, rel: string, change: (text: string) => string): void {
  const file = path.join(c.dir, rel);
  const text = fs.readFileSync(file, 'utf8');
  const changed = change(text);
  expect(changed, `${rel} was changed`).not.toEqual(text);
  fs.writeFileSync(file, changed);
}

/** Run the CLI with the size of any file it writes limited to `kb` KB (`ulimit -f`): a full disk, as the writer sees it. */
function withFileLimit(c: Case, kb: number, args: string[]): CliResult {
  const r = spawnSync('/bin/sh', ['-c', `ulimit -f ${kb * 2} && exec "$0" "$@"`, process.execPath, BIN, ...args], {
    cwd: c.dir, env: cliEnv(c.env), encoding: 'utf8', timeout: 60_000,
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

describe('a write that fails half-way (file size limit: EFBIG, like a full disk)', () => {
  it('a disk that fills up mid-write (a short write, then ENOSPC): the file is never replaced, no temporary is left', () => {
    const dir = path.join(work.dir, `short-${n++}`);
    fs.mkdirSync(dir);
    const file = path.join(dir, 'pipeline.lock');
    fs.writeFileSync(file, 'the good version\n');
    let calls = 0;
    const spy = vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, buf: Buffer, off: number, len: number) => {
      if (++calls > 1) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return realWriteSync(fd, buf, off, Math.min(len, 7)); // the kernel takes what fits
    }) as typeof fs.writeSync);
    try {
      expect(() => writeFileAtomicSync(file, 'a new version, longer than what fits\n')).toThrow(/ENOSPC/);
    } finally {
      spy.mockRestore();
    }
    expect(calls).toBe(2);
    expect(fs.readFileSync(file, 'utf8')).toBe('the good version\n');
    expect(fs.readdirSync(dir)).toEqual(['pipeline.lock']);
  });

  it('saving .manifest.json: exit 1 naming it, the previous file intact, finished items kept in the journal', () => {
    const c = copy();
    for (let i = 0; i < 60; i++) fs.writeFileSync(path.join(c.dir, `in/many-${String(i).padStart(2, '0')}-with-a-longer-name.txt`), `${i}\n`);
    expect(c.run('repro').code).toBe(0);
    const manifest = fs.readFileSync(path.join(c.dir, '.manifest.json'));
    expect(manifest.length, 'the manifest must be larger than the limit').toBeGreaterThan(24 * 1024);
    fs.writeFileSync(path.join(c.dir, 'in/new.txt'), 'new\n');
    fs.rmSync(path.join(c.env.RELI_CTL, 'ran.log'));

    const r = withFileLimit(c, 16, ['repro']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^Error: cannot save \.manifest\.json \(the previous version is unchanged\): EFBIG/m);
    expect(r.stderr).not.toMatch(STACK);
    expect(fs.readFileSync(path.join(c.dir, '.manifest.json'))).toEqual(manifest);
    expect(c.ran()).toContain('in/new.txt');

    // Once there is room again, nothing that finished runs again.
    const st = c.run('status', '--json');
    expect(json(st).stages[0].items).toMatchObject({ pending: 0, failed: 0 });
    fs.rmSync(path.join(c.env.RELI_CTL, 'ran.log'));
    const again = c.run('repro');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/recovered \d+ change\(s\) of an interrupted run/);
    expect(c.ran()).toEqual([]);
    expect(c.run('status', '--check').code).toBe(0);
  });

  it('writing pipeline.lock: exit 1 naming it, the previous lock intact, the stage runs again next time', () => {
    const c = copy();
    // A long command makes the lock larger than the limit.
    const rc = fs.readFileSync(path.join(c.dir, '.pipelinerc'), 'utf8').replace(/cmd: (cat out.*)/, (_, cmd) => `cmd: ': ${'x'.repeat(40_000)}; ${cmd.replace(/'/g, "''")}'`);
    fs.writeFileSync(path.join(c.dir, '.pipelinerc'), rc);
    expect(c.run('repro').code).toBe(0);
    const lock = fs.readFileSync(path.join(c.dir, 'pipeline.lock'));
    expect(lock.length).toBeGreaterThan(32 * 1024);
    fs.writeFileSync(path.join(c.dir, 'in/d.txt'), 'd\n');
    fs.rmSync(path.join(c.env.RELI_CTL, 'ran.log'));

    const r = withFileLimit(c, 16, ['repro']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/cannot write pipeline\.lock: EFBIG/);
    expect(r.stderr).not.toMatch(STACK);
    expect(fs.readFileSync(path.join(c.dir, 'pipeline.lock'))).toEqual(lock);
    expect(fs.readdirSync(c.dir).filter((f) => f.startsWith('pipeline.lock.')), 'no temporary file left').toEqual([]);

    fs.rmSync(path.join(c.env.RELI_CTL, 'ran.log'));
    const again = c.run('repro');
    expect(again.code, again.stderr).toBe(0);
    expect(c.ran(), 'the item is kept; only the stage whose entry was not written runs').toEqual(['sum']);
    expect(c.run('status', '--check').code).toBe(0);
  });
});

describe('the journal cannot be written (file size limit: EFBIG, like a full disk)', () => {
  it('the stage fails naming the journal; the items journaled before are kept, the others run next time', () => {
    const c = copy();
    const ITEMS = 60;
    for (let i = 0; i < ITEMS; i++) fs.writeFileSync(path.join(c.dir, `in/item-number-${String(i).padStart(2, '0')}-with-a-long-name.txt`), `${i}\n`);
    const manifest = fs.readFileSync(path.join(c.dir, '.manifest.json'));
    const r = withFileLimit(c, 8, ['repro', '-j', '2']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/copy failed: cannot write the journal \S*journal\.jsonl: EFBIG/);
    expect(r.stderr).not.toMatch(STACK);
    expect(fs.readFileSync(path.join(c.dir, '.manifest.json')), 'a save never half-writes').toEqual(manifest);
    const first = c.ran();
    expect(first.length, 'the items in flight finish, no new one starts').toBeLessThan(ITEMS);
    const kept = recordedItems(c.dir);
    expect(kept.size).toBeGreaterThan(3);

    fs.rmSync(path.join(c.env.RELI_CTL, 'ran.log'));
    const again = c.run('repro');
    expect(again.code, again.stderr).toBe(0);
    const second = c.ran().filter((x) => x !== 'sum');
    expect(second.filter((i) => kept.has(i)), 'journaled items are not run again').toEqual([]);
    expect(second.length + kept.size).toBe(ITEMS + 3);
    expect(c.run('status', '--check').code).toBe(0);
  });
});

/** Items recorded as done (manifest and journal), as the next command reads them. */
function recordedItems(root: string): Set<string> {
  const items = Manifest.load({ root, readOnly: true, onWarning: () => {} }).stage('copy')?.items ?? {};
  return new Set(Object.keys(items).filter((k) => items[k].status === 'success'));
}

// Permissions do not bind root: as root, run dvcl as `nobody` on a project it owns.
const ROOT = process.getuid?.() === 0;
const NOBODY = 65534;
const canRunAsNobody = ROOT && spawnSync(process.execPath, [BIN, '--version'], { uid: NOBODY, gid: NOBODY, encoding: 'utf8' }).status === 0;
const canUsePermissions = process.platform !== 'win32' && (!ROOT || canRunAsNobody);

function runRestricted(c: Case, args: string[]): CliResult {
  const opts = ROOT ? { uid: NOBODY, gid: NOBODY } : {};
  const home = path.join(work.dir, 'home');
  if (!fs.existsSync(home)) {
    fs.mkdirSync(home);
    chownAll(home);
  }
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: c.dir, env: cliEnv({ ...c.env, HOME: home }), encoding: 'utf8', timeout: 60_000, ...opts });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function chownAll(dir: string): void {
  if (!ROOT) return;
  for (const f of [dir, ...fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((r) => path.join(dir, r))]) fs.lchownSync(f, NOBODY, NOBODY);
}

describe.skipIf(!canUsePermissions)('read-only files and folders', () => {
  it('a read-only project folder: the run fails with a message, .manifest.json and pipeline.lock stay as they were, finished items are kept', () => {
    const c = copy();
    fs.writeFileSync(path.join(c.dir, 'in/d.txt'), 'd\n');
    chownAll(c.dir);
    const before = { m: fs.readFileSync(path.join(c.dir, '.manifest.json')), l: fs.readFileSync(path.join(c.dir, 'pipeline.lock')) };
    fs.chmodSync(c.dir, 0o555);
    let r: CliResult;
    try {
      r = runRestricted(c, ['repro']);
    } finally {
      fs.chmodSync(c.dir, 0o755);
    }
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/EACCES/);
    expect(r.stderr).toMatch(/\.manifest\.json|pipeline\.lock|sum\.txt/);
    expect(r.stderr).not.toMatch(STACK);
    expect(fs.readFileSync(path.join(c.dir, '.manifest.json'))).toEqual(before.m);
    expect(fs.readFileSync(path.join(c.dir, 'pipeline.lock'))).toEqual(before.l);
    expect(c.ran()).toContain('in/d.txt');

    fs.rmSync(path.join(c.env.RELI_CTL, 'ran.log'));
    const again = runRestricted(c, ['repro']);
    expect(again.code, again.stderr).toBe(0);
    expect(c.ran(), 'the item that finished is not run again').toEqual(['sum']);
  });

  it('a read-only .dvcl folder: repro refuses before running anything; status still works', () => {
    const c = copy();
    fs.writeFileSync(path.join(c.dir, 'in/d.txt'), 'd\n');
    chownAll(c.dir);
    const before = c.snapshot();
    const state = path.join(c.dir, '.dvcl');
    fs.chmodSync(state, 0o555);
    let r: CliResult;
    let st: CliResult;
    try {
      r = runRestricted(c, ['repro']);
      st = runRestricted(c, ['status']);
    } finally {
      fs.chmodSync(state, 0o755);
    }
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.stderr).toMatch(/^Error: .*\.dvcl.*EACCES/m);
    expect(r.stderr).not.toMatch(STACK);
    expect(c.snapshot()).toEqual(before);
    expect(c.ran()).toEqual([]);
    expect(st.code, st.stderr).toBe(0);
  });

  it('a read-only out folder: the items fail with the reason, the others succeed, the manifest says which', () => {
    const c = copy();
    for (const f of ['d', 'e']) fs.writeFileSync(path.join(c.dir, `in/${f}.txt`), `${f}\n`);
    fs.rmSync(path.join(c.dir, 'out/c.out'));
    chownAll(c.dir);
    fs.chmodSync(path.join(c.dir, 'out'), 0o555);
    let r: CliResult;
    try {
      r = runRestricted(c, ['repro', '--json']);
    } finally {
      fs.chmodSync(path.join(c.dir, 'out'), 0o755);
    }
    expect(r.code, r.stderr).toBe(1);
    const items = JSON.parse(fs.readFileSync(path.join(c.dir, '.manifest.json'), 'utf8')).stages.copy.items;
    for (const f of ['c', 'd', 'e']) {
      expect(items[`in/${f}.txt`].status).toBe('failed');
      expect(items[`in/${f}.txt`].reason).toMatch(/exit code 1: .*(Permission denied|EACCES)/s);
    }
    expect(items['in/a.txt'].status).toBe('success');
    const again = runRestricted(c, ['retry', '--only-failed']);
    expect(again.code, again.stderr).toBe(0);
  });
});
