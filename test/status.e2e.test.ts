import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { dvcl, json } from './helpers/cli.js';
import { gitRepo } from './helpers/git-repo.js';
import { A_B_C, cleanupRepos, pipelineRepo, type StatusJson } from './helpers/pipeline.js';

afterEach(cleanupRepos);

/** A_B_C declared backwards: status must still list stages in dependency order. */
const C_B_A = `version: 1
stages:
  C:
    cmd: cp b.txt c.txt && echo C >> runs.log
    deps: [b.txt]
    outs: [c.txt]
  B:
    cmd: cp a.txt b.txt && echo B >> runs.log
    deps: [a.txt]
    outs: [b.txt]
  A:
    cmd: head -n 1 in.txt > a.txt && echo A >> runs.log
    deps: [in.txt]
    outs: [a.txt]
`;

describe('status', () => {
  it('lists stages in dependency order, says why each is stale, and changes nothing', async () => {
    const repo = await pipelineRepo(C_B_A, { 'in.txt': 'one\n' });
    const fresh = repo.status();
    expect(fresh).toEqual({
      up_to_date: false,
      stages: [
        { name: 'A', state: 'stale', reasons: [{ code: 'never_run' }] },
        { name: 'B', state: 'stale', reasons: [{ code: 'never_run' }, { code: 'upstream_stale', stage: 'A' }] },
        { name: 'C', state: 'stale', reasons: [{ code: 'never_run' }, { code: 'upstream_stale', stage: 'B' }] },
      ],
    });
    expect(repo.lock()).toBeNull();
    expect(repo.manifest()).toBeNull();

    expect(repo.run('repro').code).toBe(0);
    const lock = repo.lock();
    const manifest = repo.manifest();
    const oldHash = parse(lock!).stages.A.deps[0].hash;
    repo.write('in.txt', 'uno\n');
    const st = repo.status();
    expect(st).toEqual({
      up_to_date: false,
      stages: [
        { name: 'A', state: 'stale', reasons: [{ code: 'dep_changed', path: 'in.txt', old: oldHash, new: expect.stringMatching(/^xxh128:/) }] },
        { name: 'B', state: 'stale', reasons: [{ code: 'upstream_stale', stage: 'A' }] },
        { name: 'C', state: 'stale', reasons: [{ code: 'upstream_stale', stage: 'B' }] },
      ],
    });
    expect(st.stages[0].reasons[0].new).not.toBe(oldHash);
    expect(repo.lock()).toBe(lock);
    expect(repo.manifest()).toBe(manifest);
  });

  it('leaves git status clean in a project where `dvcl init` never ran (.dvcl/ ignores itself)', async () => {
    const repo = await gitRepo({ '.pipelinerc': A_B_C, 'in.txt': 'one\n' });
    try {
      expect(dvcl(repo.dir, ['status']).code).toBe(0);
      expect(repo.exists('.dvcl/cache')).toBe(true); // the stat cache was written…
      expect(repo.git('status', '--porcelain')).toBe(''); // …and git does not see it
    } finally {
      repo.cleanup();
    }
  });

  it('with stage names: those and their upstream only', async () => {
    const repo = await pipelineRepo(A_B_C, { 'in.txt': 'one\n' });
    expect(repo.status('B').stages.map((s) => s.name)).toEqual(['A', 'B']);
    const r = repo.run('status', 'nope');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown stage "nope"/);
  });

  it('--check exits 1 when anything is stale and 0 when up to date; plain status exits 0 either way', async () => {
    const repo = await pipelineRepo(A_B_C, { 'in.txt': 'one\n' });
    const stale = repo.run('status', '--check');
    expect(stale.code).toBe(1);
    expect(repo.run('status').code).toBe(0);
    expect(repo.run('status', '--check', '--json').code).toBe(1);
    expect(json<StatusJson>(repo.run('status', '--check', '--json')).up_to_date).toBe(false);

    expect(repo.run('repro').code).toBe(0);
    const ok = repo.run('status', '--check');
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim()).toBe('Everything is up to date (3 stages).');
  });

  it('warns when pipeline.lock is empty (every stage then counts as never run), not when it is missing', async () => {
    const repo = await pipelineRepo(A_B_C, { 'in.txt': 'one\n' });
    expect(repo.run('status').stderr).not.toMatch(/empty/);
    expect(repo.run('repro').code).toBe(0);
    repo.write('pipeline.lock', '');
    const st = repo.run('status', '--json');
    expect(st.stderr).toMatch(/warning: pipeline\.lock is empty: every stage counts as never run \(`git checkout -- pipeline\.lock`/);
    expect(json<StatusJson>(st).stages[0].reasons).toEqual([{ code: 'never_run' }]);
    const again = repo.run('repro');
    expect(again.stderr).toMatch(/pipeline\.lock is empty/);
    expect(repo.lock()).toMatch(/^schema: 1\n/);
    expect(repo.run('status').stderr).not.toMatch(/empty/);
  });

  it('human output groups reasons under each stale stage and ends with a summary line', async () => {
    const repo = await pipelineRepo(A_B_C, { 'in.txt': 'one\n' });
    expect(repo.run('repro').code).toBe(0);
    repo.write('.pipelinerc', A_B_C.replace('cp b.txt c.txt', 'cp  b.txt c.txt'));
    repo.write('b.txt', 'hand edit\n');
    const r = repo.run('status');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe([
      'B: stale',
      '    out b.txt was modified',
      'C: stale',
      '    command changed',
      '    dep b.txt changed (xxh128:' + r.stdout.match(/\(xxh128:([0-9a-f]{8})/)![1] + '… → xxh128:' + r.stdout.match(/→ xxh128:([0-9a-f]{8})/)![1] + '…)',
      '    upstream stage B is not up to date',
      '',
      '2 stale, 0 failed, 1 up to date. Run `dvcl repro`.',
      '',
    ].join('\n'));
    expect(r.stderr).toBe('');
  });

  it('lists failed items with their reasons, a few per stage, all with STAGE or --json (issue 12.14)', async () => {
    const files: Record<string, string> = { 'in/ok.txt': 'ok\n' };
    for (let i = 1; i <= 7; i++) files[`in/f${i}.txt`] = `${i}\n`;
    const repo = await pipelineRepo(`version: 1
stages:
  s:
    foreach: in/*.txt
    out: o/\${name}
    cmd: 'case \${name} in f*) echo "no good: \${name}" >&2; exit 3;; esac; cp \${item} \${out}'
`, files);
    expect(repo.run('repro').code).toBe(1);
    const all = repo.run('status');
    expect(all.stdout).toContain('    ✘ in/f1.txt: exit code 3: no good: f1.txt\n');
    expect(all.stdout.match(/✘/g)).toHaveLength(5);
    expect(all.stdout).toContain('    … and 2 more failed items (`dvcl status s --json` lists them; reasons in .manifest.json)');
    const named = repo.run('status', 's');
    expect(named.stdout.match(/✘/g)).toHaveLength(7);
    expect(named.stdout).not.toContain('more failed');
    const st = repo.status('s').stages[0] as unknown as { failed_items: { item: string; reason: string; attempts: number; given_up: boolean }[] };
    expect(st.failed_items).toHaveLength(7);
    expect(st.failed_items[0]).toEqual({ item: 'in/f1.txt', reason: 'exit code 3: no good: f1.txt', attempts: 1, given_up: false });
  });

  it('--json on a configuration error: exit 2, one JSON document naming the error', async () => {
    const repo = await pipelineRepo('version: 1\nstages:\n  a:\n    cmd: true\n    colour: red\n');
    const r = repo.run('status', '--json');
    expect(r.code).toBe(2);
    const doc = json<{ error: { code: string; message: string } }>(r);
    expect(doc.error.code).toBe('config');
    expect(doc.error.message).toMatch(/^\.pipelinerc:5:5: .*colour/);
  });
});
