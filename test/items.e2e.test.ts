import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dvcl, json, type CliResult } from './helpers/cli.js';
import { gitRepo, type GitRepo } from './helpers/git-repo.js';

// End-to-end tests of per-item stages through the built binary (`npm run build` first).

/**
 * The item command used throughout: logs the item it was given to runs.log (one write, so
 * parallel items do not interleave), fails for inputs containing FAIL while fail.flag exists,
 * otherwise writes the input plus the shared suffix to the output.
 */
const TOOL = `#!/bin/sh
printf '%s\\n' "$1" >> runs.log
if grep -q BROKEN "$1"; then echo "broken input" >&2; exit 4; fi
if [ -e fail.flag ] && grep -q FAIL "$1"; then
  echo "warming up" >&2
  echo "cannot parse $DVCL_ROOT/$1" >&2
  exit 3
fi
{ cat "$1"; cat suffix.txt; } > "$2"
`;

const PIPELINE = (extra = '') => `version: 1
settings:
  max_attempts: 2
stages:
  upper:
    foreach: in/*.txt
    out: out/\${stem}.out
    cmd: sh tool.sh \${item} \${out}
    deps: [tool.sh]
    params: [tool.level]
${extra}`;

let repo: GitRepo | undefined;
afterEach(() => {
  repo?.cleanup();
  repo = undefined;
});

async function project(files: Record<string, string>, rc = PIPELINE()): Promise<GitRepo> {
  repo = await gitRepo({ '.pipelinerc': rc, 'tool.sh': TOOL, 'suffix.txt': '-v1\n', 'params.yaml': 'tool:\n  level: 1\n', ...files });
  return repo;
}

/** Items run since the last call (sorted), emptying the log. */
function takeRuns(r: GitRepo): string[] {
  if (!r.exists('runs.log')) return [];
  const lines = r.read('runs.log').split('\n').filter(Boolean).sort();
  fs.rmSync(path.join(r.dir, 'runs.log'));
  return lines;
}

function ok(r: CliResult): CliResult {
  expect(r.code, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
  return r;
}

function manifest(r: GitRepo): any {
  return JSON.parse(r.read('.manifest.json'));
}

function sortKeys(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(sortKeys);
  return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
}

/** SPEC §6: 2-space JSON, keys sorted at every level, trailing newline, no absolute path. */
function expectCanonicalManifest(r: GitRepo): void {
  const text = r.read('.manifest.json');
  expect(text).toBe(JSON.stringify(sortKeys(JSON.parse(text)), null, 2) + '\n');
  expect(text).not.toContain(r.dir);
  expect(text).not.toContain(fs.realpathSync(path.dirname(r.dir)));
}

describe('per-item stages: incremental runs', () => {
  it('runs each item once, then only what changed', async () => {
    const r = await project({ 'in/a.txt': 'a\n', 'in/b.txt': 'b\n', 'in/c.txt': 'c\n' });

    ok(dvcl(r.dir, ['repro']));
    expect(takeRuns(r)).toEqual(['in/a.txt', 'in/b.txt', 'in/c.txt']);
    expect(r.read('out/a.out')).toBe('a\n-v1\n');
    expect(r.read('out/c.out')).toBe('c\n-v1\n');
    const m = manifest(r);
    expect(Object.keys(m.stages.upper.items)).toEqual(['in/a.txt', 'in/b.txt', 'in/c.txt']);
    expect(m.stages.upper.items['in/b.txt']).toMatchObject({ status: 'success', attempts: 1, output: 'out/b.out' });
    expectCanonicalManifest(r);
    ok(dvcl(r.dir, ['status', '--check']));

    // A no-op run runs nothing and leaves the committed files as they were.
    r.git('add', '-A');
    r.git('commit', '-qm', 'first run');
    const noop = ok(dvcl(r.dir, ['repro', '--json']));
    expect(takeRuns(r)).toEqual([]);
    expect(json(noop).stages[0]).toMatchObject({ name: 'upper', result: 'skipped', items: { total: 3, ran: 0 } });
    expect(r.git('status', '--porcelain', '--', '.manifest.json', 'pipeline.lock')).toBe('');

    // A changed and a new input: exactly those two.
    r.write('in/a.txt', 'a2\n');
    r.write('in/d.txt', 'd\n');
    const st = json(dvcl(r.dir, ['status', '--json']));
    expect(st.stages[0]).toMatchObject({ state: 'stale', reasons: [{ code: 'items_pending', count: 2 }], items: { total: 4, success: 2, failed: 0, pending: 2 } });
    expect(dvcl(r.dir, ['status', '--check']).code).toBe(1);
    ok(dvcl(r.dir, ['repro']));
    expect(takeRuns(r)).toEqual(['in/a.txt', 'in/d.txt']);
    expect(r.read('out/a.out')).toBe('a2\n-v1\n');

    // A shared dep changed: every item.
    r.write('tool.sh', TOOL + '# v2\n');
    ok(dvcl(r.dir, ['repro']));
    expect(takeRuns(r)).toEqual(['in/a.txt', 'in/b.txt', 'in/c.txt', 'in/d.txt']);

    // A tracked param changed: every item.
    r.write('params.yaml', 'tool:\n  level: 2\n');
    const st2 = json(dvcl(r.dir, ['status', '--json']));
    expect(st2.stages[0].reasons).toContainEqual(expect.objectContaining({ code: 'param_changed', key: 'tool.level', old: 1, new: 2 }));
    ok(dvcl(r.dir, ['repro']));
    expect(takeRuns(r)).toEqual(['in/a.txt', 'in/b.txt', 'in/c.txt', 'in/d.txt']);

    // A deleted output: just that item (without the run cache, which would place it from .dvcl/objects/).
    fs.rmSync(path.join(r.dir, 'out/c.out'));
    expect(dvcl(r.dir, ['status', '--check']).code).toBe(1);
    ok(dvcl(r.dir, ['repro', '--no-run-cache']));
    expect(takeRuns(r)).toEqual(['in/c.txt']);
    expect(r.read('out/c.out')).toBe('c\n-v1\n');

    // An output edited by hand: just that item.
    r.write('out/b.out', 'tampered\n');
    ok(dvcl(r.dir, ['repro']));
    expect(takeRuns(r)).toEqual(['in/b.txt']);
    expect(r.read('out/b.out')).toBe('b\n-v1\n');

    ok(dvcl(r.dir, ['status', '--check']));
    expect(r.read('pipeline.lock')).toMatch(/items:\n\s+count: 4\n/);

    // A deleted input: nothing runs, but the lock entry no longer describes the items, and the
    // item is dropped with its output.
    fs.rmSync(path.join(r.dir, 'in/d.txt'));
    const st3 = dvcl(r.dir, ['status', '--check', '--json']);
    expect(st3.code).toBe(1);
    expect(json(st3).stages[0].reasons).toEqual([expect.objectContaining({ code: 'dep_changed', path: 'in/*.txt' }), { code: 'items_dropped', count: 1 }]);
    ok(dvcl(r.dir, ['repro']));
    expect(takeRuns(r)).toEqual([]);
    expect(r.read('pipeline.lock')).toMatch(/items:\n\s+count: 3\n/);
    expect(Object.keys(manifest(r).stages.upper.items)).not.toContain('in/d.txt');
    expect(r.exists('out/d.out')).toBe(false);
    ok(dvcl(r.dir, ['status', '--check']));
    expectCanonicalManifest(r);
  });

  it('runs 100 items with -j 4 and leaves manifest and lock consistent', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 100; i++) files[`in/f${String(i).padStart(3, '0')}.txt`] = `${i}\n`;
    const r = await project(files, PIPELINE().replace('cmd: sh tool.sh ${item} ${out}', 'cmd: cp ${item} ${out}'));

    const res = json(ok(dvcl(r.dir, ['repro', '-j', '4', '--json'])));
    expect(res.stages[0]).toMatchObject({ result: 'ran', items: { total: 100, ran: 100, succeeded: 100, failed: 0 } });
    expect(fs.readdirSync(path.join(r.dir, 'out'))).toHaveLength(100);
    expect(r.read('out/f042.out')).toBe('42\n');
    const items = manifest(r).stages.upper.items;
    expect(Object.values(items).filter((i: any) => i.status === 'success')).toHaveLength(100);
    expect(r.read('pipeline.lock')).toMatch(/items:\n\s+count: 100\n/);
    expect(fs.existsSync(path.join(r.dir, '.dvcl/journal.jsonl'))).toBe(false);
    ok(dvcl(r.dir, ['status', '--check']));
    const again = json(ok(dvcl(r.dir, ['repro', '-j', '4', '--json'])));
    expect(again.stages[0]).toMatchObject({ result: 'skipped', items: { ran: 0 } });
  });

  it('runs long items side by side even when they come after many short ones (-j 2)', async () => {
    // 60 quick items make the slots queue several items at once; the two slow ones come last, and
    // would run one after the other if one slot kept both queued while the other had nothing to do.
    const files: Record<string, string> = {};
    for (let i = 0; i < 60; i++) files[`in/a${String(i).padStart(2, '0')}.txt`] = `${i}\n`;
    files['in/s1.txt'] = 's1\n';
    files['in/s2.txt'] = 's2\n';
    const cmd = `case \${name} in s*) echo "start \${name}" >> slow.log; sleep 1; echo "end \${name}" >> slow.log;; esac; cp \${item} \${out}`;
    const r = await project(files, PIPELINE().replace('cmd: sh tool.sh ${item} ${out}', `cmd: '${cmd}'`));
    const res = json(ok(dvcl(r.dir, ['repro', '-j', '2', '--json'])));
    expect(res.stages[0]).toMatchObject({ result: 'ran', items: { ran: 62, succeeded: 62 } });
    // Both started before either ended.
    expect(r.read('slow.log').split('\n').slice(0, 2).map((l) => l.split(' ')[0])).toEqual(['start', 'start']);
    expect(fs.readdirSync(path.join(r.dir, 'out'))).toHaveLength(62);
  });
});

describe('per-item stages: failures', () => {
  it('records a failing item, retries it up to max_attempts, and retry --only-failed runs only it', async () => {
    const rc = PIPELINE(`  summary:
    cmd: sh -c 'echo summary >> runs.log; cat note.txt > summary.txt'
    deps: [note.txt]
    outs: [summary.txt]
`);
    const r = await project({ 'in/a.txt': 'a\n', 'in/bad.txt': 'FAIL\n', 'in/c.txt': 'c\n', 'fail.flag': '', 'note.txt': 'n1\n' }, rc);

    const first = dvcl(r.dir, ['repro', '-k']);
    expect(first.code).toBe(1);
    expect(first.stderr).toContain('cannot parse in/bad.txt');
    expect(takeRuns(r)).toEqual(['in/a.txt', 'in/bad.txt', 'in/c.txt', 'summary']);
    let m = manifest(r);
    expect(m.stages.upper.status).toBe('failed');
    const bad = m.stages.upper.items['in/bad.txt'];
    expect(bad).toMatchObject({ status: 'failed', attempts: 1, output: 'out/bad.out' });
    expect(bad.reason).toMatch(/^exit code 3: /);
    expect(bad.reason).toContain('warming up\ncannot parse in/bad.txt');
    expect(bad.last_attempt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(m.stages.upper.items['in/a.txt']).toMatchObject({ status: 'success', attempts: 1 });
    expect(r.exists('out/bad.out')).toBe(false);
    expect(r.read('out/a.out')).toBe('a\n-v1\n');
    expectCanonicalManifest(r);

    const st = dvcl(r.dir, ['status', '--json']);
    expect(st.code).toBe(0);
    const upper = json(st).stages.find((s: any) => s.name === 'upper');
    expect(upper).toMatchObject({ state: 'failed', items: { total: 3, success: 2, failed: 1, pending: 0 } });
    expect(upper.reasons).toContainEqual(expect.objectContaining({ code: 'items_failed', count: 1 }));
    expect(json(st).up_to_date).toBe(false);
    expect(dvcl(r.dir, ['status', '--check']).code).toBe(1);

    // The next repro tries it again (and only it): attempt 2 of 2.
    expect(dvcl(r.dir, ['repro']).code).toBe(1);
    expect(takeRuns(r)).toEqual(['in/bad.txt']);
    m = manifest(r);
    expect(m.stages.upper.items['in/bad.txt']).toMatchObject({ status: 'failed', attempts: 2 });

    // max_attempts reached: not run, reported as given up.
    const capped = dvcl(r.dir, ['repro', '--json']);
    expect(capped.code).toBe(1);
    expect(takeRuns(r)).toEqual([]);
    expect(json(capped).stages.find((s: any) => s.name === 'upper')).toMatchObject({ items: { ran: 0, given_up: 1 } });
    expect(dvcl(r.dir, ['repro']).stderr).toMatch(/given up/);
    takeRuns(r);
    expect(manifest(r).stages.upper.items['in/bad.txt'].attempts).toBe(2);

    // Fix the cause; meanwhile a new item and a stale ordinary stage appeared.
    fs.rmSync(path.join(r.dir, 'fail.flag'));
    r.write('in/new.txt', 'new\n');
    r.write('note.txt', 'n2\n');
    if (!fs.existsSync(new URL('../src/commands/retry.ts', import.meta.url))) return; // retry not written yet

    const stillCapped = dvcl(r.dir, ['retry', '--only-failed', '--json']);
    expect(takeRuns(r)).toEqual([]);
    expect(JSON.stringify(json(stillCapped))).toMatch(/given_up/);

    const retried = dvcl(r.dir, ['retry', '--only-failed', '--max-attempts', '3']);
    expect(retried.code, retried.stderr).toBe(0);
    expect(takeRuns(r)).toEqual(['in/bad.txt']);
    expect(r.read('out/bad.out')).toBe('FAIL\n-v1\n');
    expect(r.read('summary.txt')).toBe('n1\n');
    m = manifest(r);
    expect(m.stages.upper.items['in/bad.txt']).toMatchObject({ status: 'success', attempts: 3 });
    expect(m.stages.upper.items['in/new.txt']).toBeUndefined();
    expect(m.stages.upper.status).toBe('success');
    const after = json(dvcl(r.dir, ['status', '--json']));
    expect(after.stages.find((s: any) => s.name === 'upper')).toMatchObject({ state: 'stale', items: { total: 4, success: 3, failed: 0, pending: 1 } });
    expect(after.stages.find((s: any) => s.name === 'summary')).toMatchObject({ state: 'stale' });
    expectCanonicalManifest(r);

    ok(dvcl(r.dir, ['repro']));
    expect(takeRuns(r)).toEqual(['in/new.txt', 'summary']);
    ok(dvcl(r.dir, ['status', '--check']));
  });
});

describe('retry --only-failed', () => {
  it('re-runs a failed item once its input is fixed, and after a shared dep change only the failed items', async () => {
    const r = await project({ 'in/a.txt': 'a\n', 'in/b.txt': 'BROKEN\n', 'in/c.txt': 'c\n' });
    expect(dvcl(r.dir, ['repro']).code).toBe(1);
    expect(takeRuns(r)).toEqual(['in/a.txt', 'in/b.txt', 'in/c.txt']);
    expect(manifest(r).stages.upper.items['in/b.txt']).toMatchObject({ status: 'failed', reason: 'exit code 4: broken input' });

    r.write('in/b.txt', 'b fixed\n');
    r.write('in/new.txt', 'new\n');
    ok(dvcl(r.dir, ['retry', '--only-failed']));
    expect(takeRuns(r)).toEqual(['in/b.txt']);
    expect(r.read('out/b.out')).toBe('b fixed\n-v1\n');

    r.write('in/b.txt', 'BROKEN again\n');
    expect(dvcl(r.dir, ['repro']).code).toBe(1);
    expect(takeRuns(r)).toEqual(['in/b.txt', 'in/new.txt']);
    r.write('tool.sh', TOOL + '# v2\n'); // every item is now stale; retry still runs only the failed one
    expect(dvcl(r.dir, ['retry', '--only-failed']).code).toBe(1);
    expect(takeRuns(r)).toEqual(['in/b.txt']);
    const st = json(dvcl(r.dir, ['status', '--json'])).stages[0];
    expect(st.items).toMatchObject({ total: 4, success: 0, failed: 1, pending: 3 });
  });
});

describe('per-item stages: configuration', () => {
  it('refuses two items that would write the same output (exit 2), running nothing', async () => {
    const rc = PIPELINE().replace('foreach: in/*.txt', 'foreach: [in/*.txt, in/*.csv]');
    const r = await project({ 'in/a.txt': 'a\n', 'in/a.csv': 'x\n', 'in/b.txt': 'b\n' }, rc);
    for (const args of [['repro'], ['status']]) {
      const res = dvcl(r.dir, args);
      expect(res.code).toBe(2);
      expect(res.stderr).toContain('stage upper: items in/a.csv and in/a.txt both write out/a.out');
      expect(res.stderr).toMatch(/hint: .*\$\{name\}/);
    }
    expect(takeRuns(r)).toEqual([]);
    expect(r.exists('.manifest.json')).toBe(false);
  });

  it('refuses the same clash among items an upstream stage produced, before any of them runs', async () => {
    // The inputs do not exist before the run: the clash can only be seen once `gen` has run.
    const rc = `version: 1
stages:
  gen:
    cmd: mkdir -p gen && echo a > gen/a.txt && echo x > gen/a.csv
    outs: [gen]
  upper:
    foreach: [gen/*.txt, gen/*.csv]
    out: out/\${stem}.out
    cmd: sh tool.sh \${item} \${out}
`;
    const r = await project({}, rc);
    const res = dvcl(r.dir, ['repro']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('stage upper: items gen/a.csv and gen/a.txt both write out/a.out');
    expect(takeRuns(r)).toEqual([]);
    expect(r.exists('out')).toBe(false);
  });
});

describe('per-item stages: hostile file names', () => {
  it('passes every name as one argument and runs nothing embedded in it', async () => {
    const names = ['a b.txt', 'x;touch INJECTED.txt', '$(touch INJECTED2).txt', '`touch INJECTED3`.txt', "it's.txt", '-rf.txt', 'ü€.txt', '[1] & more.txt'];
    const files: Record<string, string> = {};
    for (const n of names) files[`in/${n}`] = `${n}\n`;
    const rc = `version: 1
stages:
  copy:
    foreach: in/*.txt
    out: out/\${dir}/\${stem}.out
    cmd:
      - cat \${item} > \${out}
      - printf '%s|%s|%s|%s|%s|%s|%s\\n' \${name} \${stem} \${dir} "$DVCL_ITEM" "$DVCL_OUT" "$DVCL_STAGE" "$DVCL_ROOT" >> \${out}
      - printf 'dq:%s\\n' "\${item}" >> "\${out}"
      - sh -c 'printf "sq:%s\\n" \${name} >> \${out}'
`;
    const r = await project(files, rc);

    const res = dvcl(r.dir, ['repro', '-j', '3']);
    expect(res.code, res.stderr).toBe(0);
    for (const n of names) {
      const stem = n.slice(0, -'.txt'.length);
      const out = `out/in/${stem}.out`;
      expect(r.read(out)).toBe(`${n}\n${n}|${stem}|in|in/${n}|${out}|copy|${r.dir}\ndq:in/${n}\nsq:${n}\n`);
    }
    // Commands run in the project root; a name that got executed would have created INJECTED* there or in a folder below.
    const injected = (dir: string) => fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => path.basename(f).startsWith('INJECTED'));
    expect(injected(r.dir)).toEqual([]);
    expect(fs.readdirSync(process.cwd()).filter((f) => f.startsWith('INJECTED'))).toEqual([]);

    const items = Object.keys(manifest(r).stages.copy.items);
    expect(items).toEqual(names.map((n) => `in/${n}`).sort());
    expectCanonicalManifest(r);
    ok(dvcl(r.dir, ['status', '--check']));
    const again = json(ok(dvcl(r.dir, ['repro', '--json'])));
    expect(again.stages[0]).toMatchObject({ result: 'skipped', items: { total: names.length, ran: 0 } });
  });
});

describe('.manifest.json recovery', () => {
  it('restores a truncated manifest from .manifest.json.bak and keeps the corrupt file aside', async () => {
    const r = await project({ 'in/a.txt': 'a\n', 'in/b.txt': 'b\n' });
    ok(dvcl(r.dir, ['repro']));
    r.write('in/c.txt', 'c\n');
    ok(dvcl(r.dir, ['repro']));
    takeRuns(r);
    expect(r.exists('.manifest.json.bak')).toBe(true);
    const good = r.read('.manifest.json');
    const truncated = good.slice(0, Math.floor(good.length / 2));
    r.write('.manifest.json', truncated);

    // status reads the backup, writes nothing
    const st = ok(dvcl(r.dir, ['status', '--json']));
    expect(st.stderr).toMatch(/\.manifest\.json\.bak/);
    expect(json(st).stages[0].items).toMatchObject({ total: 3, success: 2, pending: 1 });
    expect(r.read('.manifest.json')).toBe(truncated);

    const res = ok(dvcl(r.dir, ['repro', '--no-run-cache'])); // the run cache would restore in/c.txt's output
    expect(res.stderr).toMatch(/corrupt.*restored it from \.manifest\.json\.bak/);
    expect(takeRuns(r)).toEqual(['in/c.txt']); // the items of the backup are not run again
    const aside = fs.readdirSync(r.dir).filter((f) => f.startsWith('.manifest.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(r.read(aside[0])).toBe(truncated);
    expect(Object.keys(manifest(r).stages.upper.items)).toEqual(['in/a.txt', 'in/b.txt', 'in/c.txt']);
    ok(dvcl(r.dir, ['status', '--check']));
  });

  it('exits 2 with a message when the manifest and its backup are both corrupt', async () => {
    const r = await project({ 'in/a.txt': 'a\n' });
    ok(dvcl(r.dir, ['repro']));
    r.write('in/b.txt', 'b\n');
    ok(dvcl(r.dir, ['repro']));
    takeRuns(r);
    r.write('.manifest.json', '{"version": 1, "stages": {');
    r.write('.manifest.json.bak', '<<<<<<< ours\n');
    for (const args of [['repro'], ['status']]) {
      const res = dvcl(r.dir, args);
      expect(res.code).toBe(2);
      expect(res.stderr).toMatch(/\.manifest\.json is corrupt/);
      expect(res.stderr).toMatch(/hint: .*git checkout/);
      expect(res.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
    expect(takeRuns(r)).toEqual([]);
    expect(r.read('.manifest.json')).toBe('{"version": 1, "stages": {');
  });
});

describe('prune --deleted', () => {
  it('shows what it would drop with --dry-run, then drops deleted items with their outputs and removed stages', async () => {
    const rc = PIPELINE(`  extra:
    cmd: sh -c 'cat note.txt > extra.txt'
    deps: [note.txt]
    outs: [extra.txt]
`);
    const r = await project({ 'in/a.txt': 'a\n', 'in/b.txt': 'b\n', 'in/c.txt': 'c\n', 'note.txt': 'n\n' }, rc);
    ok(dvcl(r.dir, ['repro']));
    r.write('note.txt', 'n2\n');
    ok(dvcl(r.dir, ['repro', 'extra'])); // a second run record, referred to by the extra stage only
    takeRuns(r);
    fs.rmSync(path.join(r.dir, 'in/b.txt'));
    r.write('.pipelinerc', PIPELINE());
    const before = { manifest: r.read('.manifest.json'), lock: r.read('pipeline.lock') };

    const dry = json(ok(dvcl(r.dir, ['prune', '--deleted', '--dry-run', '--json'])));
    expect(dry).toMatchObject({ dry_run: true, items: [{ stage: 'upper', item: 'in/b.txt' }], stages: ['extra'], removed_outputs: ['out/b.out'] });
    expect(dry.runs).toHaveLength(1);
    expect(r.read('.manifest.json')).toBe(before.manifest);
    expect(r.read('pipeline.lock')).toBe(before.lock);
    const human = ok(dvcl(r.dir, ['prune', '--deleted', '--dry-run']));
    expect(human.stdout).toContain('would drop item in/b.txt (stage upper)');

    const done = json(ok(dvcl(r.dir, ['prune', '--deleted', '--json'])));
    expect(done).toMatchObject({ dry_run: false, items: dry.items, stages: ['extra'], runs: dry.runs, removed_outputs: ['out/b.out'] });
    const m = manifest(r);
    expect(Object.keys(m.stages)).toEqual(['upper']);
    expect(Object.keys(m.stages.upper.items)).toEqual(['in/a.txt', 'in/c.txt']);
    expect(Object.keys(m.runs)).toHaveLength(1);
    expect(r.read('pipeline.lock')).not.toMatch(/extra/);
    expect(r.exists('out/b.out')).toBe(false); // the file dvcl recorded for the deleted input
    expect(r.exists('extra.txt')).toBe(true); // a removed stage's outs stay
    expectCanonicalManifest(r);

    expect(ok(dvcl(r.dir, ['prune', '--deleted'])).stdout).toContain('Nothing to prune.');
    ok(dvcl(r.dir, ['repro']));
    expect(takeRuns(r)).toEqual([]);
    ok(dvcl(r.dir, ['status', '--check']));
  });
});

describe('per-item command lists', () => {
  it('run in order, each in its own subshell, and stop at the first failure with its exit code', async () => {
    const r = await project({ 'in/a.txt': 'a\n', 'in/b.txt': 'b\n' }, `version: 1
stages:
  two:
    foreach: in/*.txt
    out: out/\${stem}.out
    cmd:
      - cd out && touch cd-leaked-\${stem}
      - grep -q b \${item} && { echo "no b wanted" >&2; exit 6; } || true
      - cp \${item} \${out}
`);
    const res = dvcl(r.dir, ['repro', '--json']);
    expect(res.code).toBe(1);
    // the first command's `cd` did not carry over: the second and third ran in the project root
    expect(r.read('out/a.out')).toBe('a\n');
    expect(r.exists('out/b.out')).toBe(false);
    const items = JSON.parse(r.read('.manifest.json')).stages.two.items;
    expect(items['in/a.txt'].status).toBe('success');
    expect(items['in/b.txt']).toMatchObject({ status: 'failed', attempts: 1 });
    expect(items['in/b.txt'].reason).toMatch(/^exit code 6: no b wanted$/);
  });
});

describe('an item that kills its item shell', () => {
  it('fails alone; the items queued behind it run in a new shell, and no shell file is left behind', async () => {
    const files: Record<string, string> = { 'kill.flag': '' };
    for (let i = 0; i < 12; i++) files[`in/f${String(i).padStart(2, '0')}.txt`] = `${i}\n`;
    // $$ in a subshell is the shell that started it: the item shell itself.
    const cmd = `case \${name} in f05.txt) if [ -e kill.flag ]; then echo "going down" >&2; kill -9 $$; fi;; esac; cp \${item} \${out}`;
    const r = await project(files, PIPELINE().replace('cmd: sh tool.sh ${item} ${out}', () => `cmd: '${cmd}'`));
    const res = dvcl(r.dir, ['repro', '-j', '2', '--json']);
    expect(res.code, res.stderr).toBe(1);
    const items = manifest(r).stages.upper.items;
    expect(items['in/f05.txt']).toMatchObject({ status: 'failed', attempts: 1, reason: 'killed by SIGKILL: going down' });
    for (const [k, v] of Object.entries(items) as [string, any][]) {
      if (k === 'in/f05.txt') continue;
      expect(v.status, k).toBe('success');
      expect(r.read(v.output)).toBe(r.read(k));
    }
    expect(Object.keys(items)).toHaveLength(12);
    expect(fs.readdirSync(path.join(r.dir, '.dvcl/tmp'))).toEqual([]);
    fs.rmSync(path.join(r.dir, 'kill.flag'));
    const again = json(ok(dvcl(r.dir, ['repro', '--json'])));
    expect(again.stages[0].items).toMatchObject({ ran: 1, succeeded: 1 });
  });
});
