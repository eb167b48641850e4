import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { json } from './helpers/cli.js';
import { A_B_C, cleanupRepos, pipelineRepo, results, track, withShortcuts, type ReproJson } from './helpers/pipeline.js';

afterEach(cleanupRepos);

/** A→B→C, run once, runs.log emptied. */
async function ranChain(files: Record<string, string> = {}) {
  const repo = await pipelineRepo(A_B_C, { 'in.txt': 'one\ntwo\n', ...files });
  const r = repo.run('repro');
  expect(r.code, r.stderr).toBe(0);
  expect(repo.takeRuns()).toEqual(['A', 'B', 'C']);
  return repo;
}

describe('repro: change detection on a chain A→B→C', () => {
  it('a no-op repro runs nothing and leaves pipeline.lock byte-identical', async () => {
    const repo = await ranChain();
    const before = repo.lock();
    const r = repo.run('repro');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/everything is up to date/);
    expect(repo.takeRuns()).toEqual([]);
    expect(repo.lock()).toBe(before);
    expect(repo.status().up_to_date).toBe(true);
  });
});

describe('repro: failures', () => {
  it('a missing dep that no stage produces is exit 2 before anything runs', async () => {
    const repo = await pipelineRepo(`version: 1
stages:
  fine:
    cmd: echo fine >> runs.log && echo ok > fine.txt
    outs: [fine.txt]
  needs:
    cmd: cat nope.txt > needs.txt && echo needs >> runs.log
    deps: [nope.txt]
    outs: [needs.txt]
`);
    const r = repo.run('repro');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nope\.txt/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(repo.takeRuns()).toEqual([]);
    expect(repo.lock()).toBeNull();
    expect(repo.exists('fine.txt')).toBe(false);
    expect(repo.status().stages[1].reasons).toEqual([{ code: 'dep_missing', path: 'nope.txt' }, { code: 'never_run' }]);
  });

  it('a declared out the command did not produce fails the stage: exit 1, no lock entry; upstream entries kept', async () => {
    const repo = await pipelineRepo(`version: 1
stages:
  first:
    cmd: echo 1 > first.txt && echo first >> runs.log
    outs: [first.txt]
  second:
    cmd: cat first.txt > elsewhere.txt && echo second >> runs.log
    deps: [first.txt]
    outs: [second.txt]
`);
    const r = repo.run('repro');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/second\.txt/);
    expect(repo.takeRuns()).toEqual(['first', 'second']);
    expect(Object.keys(parse(repo.lock()!).stages)).toEqual(['first']);
    const st = repo.status().stages[1];
    expect(st.state).toBe('failed');
    expect(st.reasons).toContainEqual({ code: 'never_run' });
    expect(st.reasons).toContainEqual(expect.objectContaining({ code: 'last_run_failed', reason: expect.stringContaining('second.txt') }));
  });

  it('a cmd list runs in order and stops at the first failing command', async () => {
    const repo = await pipelineRepo(`version: 1
stages:
  steps:
    cmd:
      - echo one >> runs.log
      - echo oops >&2 && exit 3
      - echo two >> runs.log && touch steps.txt
    outs: [steps.txt]
`);
    const r = repo.run('repro');
    expect(r.code).toBe(1);
    expect(repo.takeRuns()).toEqual(['one']);
    expect(r.stderr).toMatch(/exit code 3/);
    expect(r.stderr).toMatch(/oops/);
    expect(repo.lock()).toBeNull();
    expect(repo.read('.dvcl/logs/steps.log')).toBe('oops\n');
  });

  it('a multi-line cmd stops at its first failing line, in stages and in items (issue 12.1)', async () => {
    const repo = await pipelineRepo(`version: 1
stages:
  script:
    cmd: |
      echo one >> runs.log
      false
      echo two >> runs.log
      touch script.txt
    outs: [script.txt]
  each:
    foreach: in/*.txt
    out: o/\${name}
    cmd: |
      echo item >> runs.log
      cat missing-file
      cp \${item} \${out}
  fine:
    cmd: |
      if false; then echo never; fi
      false || echo recovered >> runs.log
      touch fine.txt
    outs: [fine.txt]
`, { 'in/a.txt': 'a\n' });
    const r = repo.run('repro', '-k');
    expect(r.code).toBe(1);
    expect(repo.takeRuns().sort()).toEqual(['item', 'one', 'recovered']);
    expect(Object.keys(parse(repo.lock()!).stages)).toEqual(['fine']);
    const items = JSON.parse(repo.manifest()!).stages.each.items;
    expect(items['in/a.txt']).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^exit code 1: .*missing-file/) });
    expect(repo.exists('o/a.txt')).toBe(false);
  });

  it('a missing or non-directory wdir fails its stage with that reason, and no item spends an attempt (issue 12.5)', async () => {
    const repo = await pipelineRepo(`version: 1
stages:
  gone:
    cmd: touch x.txt
    wdir: nope
    outs: [nope/x.txt]
  file:
    cmd: touch y.txt
    wdir: afile
  each:
    foreach: in/*.txt
    out: o/\${name}
    wdir: nope
    cmd: cp \${item} \${out}
`, { afile: 'not a folder\n', 'in/a.txt': 'a\n' });
    const r = repo.run('repro', '-k', '--json');
    expect(r.code).toBe(1);
    const byName = Object.fromEntries(json<ReproJson>(r).stages.map((s) => [s.name, s]));
    expect(byName.gone.error).toBe('wdir nope does not exist');
    expect(byName.file.error).toBe('wdir afile is not a directory');
    expect(byName.each.error).toBe('wdir nope does not exist');
    const m = JSON.parse(repo.manifest()!);
    expect(m.stages.each.items ?? {}).toEqual({});
    expect(m.stages.gone.reason).toBe('wdir nope does not exist');
    expect(repo.read('.manifest.json')).not.toMatch(/ENOENT/);
  });

  it('a foreach glob that matches no file is warned about by status and repro, with a hint for \\ (issue 12.15)', async () => {
    const repo = await pipelineRepo(`version: 1
stages:
  s:
    foreach: [in/*.txt, "in\\\\*.csv", inputs/*.txt]
    out: o/\${name}
    cmd: cp \${item} \${out}
  t:
    foreach: o/*.csv
    out: p/\${name}
    cmd: cp \${item} \${out}
`, { 'in/a.txt': 'a\n' });
    for (const cmd of ['status', 'repro']) {
      const r = repo.run(cmd);
      expect(r.stderr, cmd).toContain('warning: stage s: foreach in\\*.csv matches no file (paths use /, not \\: in/*.csv)\n');
      expect(r.stderr, cmd).toContain('warning: stage s: foreach inputs/*.txt matches no file\n');
      expect(r.stderr, cmd).not.toMatch(/in\/\*\.txt matches|stage t:/); // a glob over an upstream stage's outputs may be empty
    }
    expect(json(repo.run('status', '--json')).stages[0].unmatched_globs).toEqual(['in\\*.csv', 'inputs/*.txt']);
  });

  it('a FIFO or a device as a dep, and a .dvcl that is a file: exit 2 naming the path, nothing runs (issue 12.9)', async () => {
    const rc = (dep: string) => `version: 1\nstages:\n  s:\n    cmd: echo s >> runs.log && echo x > o.txt\n    deps: [${dep}]\n    outs: [o.txt]\n`;
    const fifo = await pipelineRepo(rc('pipe'));
    execFileSync('mkfifo', [path.join(fifo.dir, 'pipe')]);
    const dev = await pipelineRepo(rc('dev'));
    fs.symlinkSync('/dev/null', path.join(dev.dir, 'dev'));
    for (const [repo, what] of [[fifo, 'pipe is a named pipe \\(FIFO\\)'], [dev, 'dev is a device']] as const) {
      for (const cmd of ['status', 'repro']) {
        const r = repo.run(cmd);
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toMatch(new RegExp(`^Error: ${what}, not a file or folder: dvcl records deps and outs by their content\n  hint: `));
      }
      expect(repo.takeRuns()).toEqual([]);
    }
    const state = await pipelineRepo(rc('in.txt'), { 'in.txt': 'x\n', '.dvcl': '' });
    for (const cmd of ['status', 'repro']) {
      const r = state.run(cmd);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^Error: \.dvcl is a file: dvcl keeps its local state in the folder \.dvcl\/\n  hint: move \.dvcl away/);
    }
    expect(state.takeRuns()).toEqual([]);
  });

  it('a cycle is a configuration error (exit 2) naming the stages', async () => {
    const repo = await pipelineRepo(`version: 1
stages:
  ping:
    cmd: cp pong.txt ping.txt
    deps: [pong.txt]
    outs: [ping.txt]
  pong:
    cmd: cp ping.txt pong.txt
    deps: [ping.txt]
    outs: [pong.txt]
`);
    for (const cmd of ['repro', 'status']) {
      const r = repo.run(cmd);
      expect(r.code, cmd).toBe(2);
      expect(r.stderr).toMatch(/cycle/i);
      expect(r.stderr).toMatch(/ping.*pong|pong.*ping/);
    }
    expect(repo.lock()).toBeNull();
  });
});

describe('repro: outs and stage flags', () => {
  it('a frozen stage cuts off its upstream for the targets downstream of it, says so, and shows as frozen (issue 12.4)', async () => {
    const repo = await ranChain();
    repo.write('.pipelinerc', A_B_C.replace('    outs: [b.txt]\n', '    outs: [b.txt]\n    frozen: true\n'));
    repo.write('in.txt', 'changed\n');
    repo.write('a.txt', 'edited\n'); // B's dep changed: B is frozen, not "up to date"
    for (const args of [['repro', 'C', '--dry-run'], ['repro', 'C']]) {
      const r = repo.run(...args);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('warning: stage B is frozen: not running A upstream of it, which nothing in this run would read\n');
      expect(r.stdout + r.stderr).toMatch(/B: frozen \(not run\)/);
      expect(r.stdout + r.stderr).not.toMatch(/B: up to date|A would run/);
    }
    expect(repo.takeRuns()).toEqual([]);
    const j = json<ReproJson>(repo.run('repro', 'C', '--json'));
    expect(j.stages.map((x) => [x.name, x.result])).toEqual([['B', 'skipped'], ['C', 'skipped']]);
    expect((j.stages[0] as { frozen?: boolean }).frozen).toBe(true);
    // The whole pipeline still brings A up to date, as DVC's `repro` does.
    expect(repo.run('repro').code).toBe(0);
    expect(repo.takeRuns()).toEqual(['A']);
  });
});

describe('repro: selection and dry run', () => {
  it('--dry-run says what would run and why, and writes nothing', async () => {
    const fresh = await pipelineRepo(A_B_C, { 'in.txt': 'one\n' });
    const r0 = fresh.run('repro', '--dry-run');
    expect(r0.code, r0.stderr).toBe(0);
    // The plan is the result: on stdout, so `dvcl repro -n > plan.txt` keeps it (issue 12.16).
    expect(r0.stdout).toMatch(/A would run: never run[^]*C would run[^]*3 stage\(s\) would run/);
    expect(r0.stderr).not.toMatch(/would run/);
    expect(fresh.lock()).toBeNull();
    expect(fresh.manifest()).toBeNull();
    expect(fresh.exists('a.txt')).toBe(false);
    expect(fresh.takeRuns()).toEqual([]);

    const repo = await ranChain();
    repo.write('in.txt', 'ONE\n');
    fs.rmSync(path.join(repo.dir, 'c.txt'));
    const snapshot = () => ['pipeline.lock', '.manifest.json', '.manifest.json.bak', 'a.txt', 'b.txt']
      .map((f) => (repo.exists(f) ? repo.read(f) : null));
    const before = snapshot();
    const r = repo.run('repro', '-n', '--json');
    expect(r.code, r.stderr).toBe(0);
    const plan = json<ReproJson>(r);
    expect(results(plan)).toEqual({ A: 'would_run', B: 'would_run', C: 'would_run' });
    expect(plan.stages[0].reasons).toEqual([expect.objectContaining({ code: 'dep_changed', path: 'in.txt' })]);
    expect(plan.stages[2].reasons).toContainEqual({ code: 'out_missing', path: 'c.txt' });
    expect(snapshot()).toEqual(before);
    expect(repo.exists('c.txt')).toBe(false);
    expect(repo.takeRuns()).toEqual([]);
  });

  it('the dry run is the plan: every stage the run will run is named, early cutoff as "may run" (issue 12.12)', async () => {
    const repo = await ranChain({ 'in.txt': 'one\ntwo\n' });
    const plan = () => {
      const j = json<ReproJson>(repo.run('repro', '--dry-run', '--json'));
      return j.stages.map((x) => [x.name, x.result, (x as { may_skip?: boolean }).may_skip ?? false]);
    };
    // A's output changes: everything below it runs, as status says.
    repo.write('in.txt', 'ONE\ntwo\n');
    expect(plan()).toEqual([['A', 'would_run', false], ['B', 'would_run', true], ['C', 'would_run', true]]);
    expect(repo.status().stages.filter((x) => x.state !== 'up_to_date').map((x) => x.name)).toEqual(['A', 'B', 'C']);
    const text = repo.run('repro', '-n');
    expect(text.stdout).toMatch(/→ B may run: upstream stage A is not up to date \(skipped if the upstream outs come out the same\)/);
    expect(text.stdout).toMatch(/3 stage\(s\) would run \(2 of them only if their upstream outs change\)/);
    expect(results(json<ReproJson>(repo.run('repro', '--json')))).toEqual({ A: 'ran', B: 'ran', C: 'ran' });
    repo.takeRuns();
    // A runs but its output comes out the same: the plan said B and C may be skipped, and they are.
    repo.write('in.txt', 'ONE\nTWO\n');
    expect(plan()).toEqual([['A', 'would_run', false], ['B', 'would_run', true], ['C', 'would_run', true]]);
    expect(results(json<ReproJson>(repo.run('repro', '--json')))).toEqual({ A: 'ran', B: 'skipped', C: 'skipped' });
  });

  it('a per-item stage below a stage that will run is in the plan, not "up to date" (issue 12.12, the quickstart case)', async () => {
    const repo = await pipelineRepo(`version: 1
stages:
  split:
    cmd: mkdir -p parts && cp src.txt parts/a.txt && echo split >> runs.log
    deps: [src.txt]
    outs: [parts]
  each:
    foreach: parts/*.txt
    out: o/\${name}
    cmd: cp \${item} \${out} && echo \${item} >> runs.log
`, { 'src.txt': 'v1\n' });
    expect(repo.run('repro').code).toBe(0);
    repo.takeRuns();
    repo.write('src.txt', 'v2\n');
    const r = repo.run('repro', '-n');
    expect(r.stdout).toMatch(/→ each may run: /);
    expect(r.stdout).not.toMatch(/each: up to date/);
    expect(results(json<ReproJson>(repo.run('repro', '--json')))).toEqual({ split: 'ran', each: 'ran' });
  });

  it('an unknown target is a usage error (exit 2) with a hint', async () => {
    const repo = await ranChain();
    const r = repo.run('repro', 'BB');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown stage "BB"/);
    expect(r.stderr).toMatch(/did you mean "B"/);
  });
});

describe('repro: output and git', () => {
  it('--json prints exactly one JSON document on stdout; stage output goes to stderr', async () => {
    const repo = await pipelineRepo(`version: 1
stages:
  loud:
    cmd: echo to-stdout && echo to-stderr >&2 && echo x > loud.txt
    outs: [loud.txt]
`);
    const r = repo.run('repro', '--json');
    expect(r.code, r.stderr).toBe(0);
    const doc = json<ReproJson>(r);
    expect(doc.ok).toBe(true);
    expect(doc.stages).toEqual([{ name: 'loud', result: 'ran', reasons: [{ code: 'never_run' }], duration_ms: expect.any(Number) }]);
    expect(r.stdout).not.toMatch(/to-std/);
    expect(r.stderr).toMatch(/to-stdout/);
    expect(r.stderr).toMatch(/to-stderr/);
    // human mode: results on stdout, stage output prefixed with the stage name on stderr
    const h = repo.run('repro', '-f');
    expect(h.stdout).not.toMatch(/to-std/);
    expect(h.stderr).toMatch(/\[loud\] to-stdout/);
    expect(repo.read('.dvcl/logs/loud.log')).toMatch(/to-stdout\n/);
  });

  it('a fresh clone of a repository with lock, manifest and outs committed is up to date and runs nothing', async () => {
    const repo = await ranChain();
    repo.commitAll('outputs');
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-clone-')));
    execFileSync('git', ['clone', '-q', repo.dir, dir]);
    const clone = withShortcuts({
      ...repo, dir,
      git: (...args) => execFileSync('git', args, { cwd: dir, encoding: 'utf8' }).trim(),
      write: (rel, c) => fs.writeFileSync(path.join(dir, rel), c),
      read: (rel) => fs.readFileSync(path.join(dir, rel), 'utf8'),
      exists: (rel) => fs.existsSync(path.join(dir, rel)),
      cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
    });
    track(clone);
    expect(clone.exists('.dvcl')).toBe(false);
    const check = clone.run('status', '--check');
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/up to date/);
    const lock = clone.lock();
    expect(clone.run('repro').code).toBe(0);
    expect(clone.takeRuns()).toEqual([]);
    expect(clone.lock()).toBe(lock);
    expect(clone.git('status', '--porcelain')).toBe('');
  });
});
