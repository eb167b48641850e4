// push, pull and gc in-process against a folder remote: dry runs change nothing, gc --remote keeps
// young objects, a remote that dvcl cannot use does not fail status.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupRepos, pipelineRepo, track } from '../helpers/pipeline.js';
import { repro } from '../../src/core/services/repro.js';
import { push } from '../../src/core/services/push.js';
import { pull } from '../../src/core/services/pull.js';
import { gc } from '../../src/core/services/gc.js';
import { status } from '../../src/core/services/status.js';
import { openProject } from '../../src/core/services/project.js';
import { LocalCache } from '../../src/core/store/local-cache.js';

afterEach(cleanupRepos);

async function pushedProject() {
  const remote = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-remote-')));
  track({ dir: remote, git: () => '', write: () => {}, read: () => '', exists: () => false, cleanup: () => fs.rmSync(remote, { recursive: true, force: true }) });
  const repo = await pipelineRepo(`version: 1\nsettings:\n  remote: ${JSON.stringify(remote)}\nstages:\n  s:\n    cmd: cat v.txt > o.txt && mkdir -p d && cat v.txt v.txt > d/x.txt\n    deps: [v.txt]\n    outs: [o.txt, d]\n`, { 'v.txt': 'one\n' });
  expect((await repro({ cwd: repo.dir })).ok).toBe(true);
  return { repo, remote };
}

const objects = (remote: string): string[] => {
  const out: string[] = [];
  const walk = (d: string) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) e.isDirectory() ? walk(path.join(d, e.name)) : out.push(path.join(d, e.name)); };
  if (fs.existsSync(path.join(remote, 'dvcl/v1/objects'))) walk(path.join(remote, 'dvcl/v1/objects')); // not the run cache's entries
  return out;
};

describe('dry runs change nothing', () => {
  it('push --dry-run counts what would go and uploads nothing', async () => {
    const { repo, remote } = await pushedProject();
    const r = await push({ cwd: repo.dir, dryRun: true });
    expect(r).toMatchObject({ transferred: 3, skipped: 0, failed: [], dry_run: true });
    expect(r.bytes).toBeGreaterThan(4 + 8);
    expect(objects(remote)).toEqual([]);
    expect(fs.existsSync(path.join(remote, 'dvcl/v1/runs'))).toBe(false);
    expect((await push({ cwd: repo.dir })).transferred).toBe(3);
    expect(objects(remote)).toHaveLength(3);
  });

  it('pull --dry-run lists what would be placed and places nothing', async () => {
    const { repo } = await pushedProject();
    await push({ cwd: repo.dir });
    fs.rmSync(path.join(repo.dir, 'o.txt'));
    fs.rmSync(path.join(repo.dir, '.dvcl/objects'), { recursive: true });
    const r = await pull({ cwd: repo.dir, dryRun: true });
    expect(r).toMatchObject({ transferred: 1, skipped: 1, failed: [], dry_run: true, placed: ['o.txt'] });
    expect(repo.exists('o.txt')).toBe(false);
    expect((await pull({ cwd: repo.dir })).placed).toEqual(['o.txt']);
    expect(repo.read('o.txt')).toBe('one\n');
  });

  it('pull called again in one process after the outputs and the cache were removed places them again', async () => {
    const { repo } = await pushedProject();
    await push({ cwd: repo.dir });
    for (let round = 0; round < 2; round++) {
      fs.rmSync(path.join(repo.dir, 'd'), { recursive: true });
      fs.rmSync(path.join(repo.dir, '.dvcl/objects'), { recursive: true });
      const r = await pull({ cwd: repo.dir });
      expect(r.failed).toEqual([]);
      expect(repo.read('d/x.txt')).toBe('one\none\n');
    }
  });

  it('a file that differs from its record is not pushed: listed', async () => {
    const { repo, remote } = await pushedProject();
    fs.writeFileSync(path.join(repo.dir, 'o.txt'), 'edited\n');
    fs.rmSync(path.join(repo.dir, '.dvcl/objects'), { recursive: true });
    const r = await push({ cwd: repo.dir });
    expect(r.failed).toEqual([{ path: 'o.txt', reason: 'differs from what the lock or manifest records (edited, or not re-run since): not pushed' }]);
    expect(objects(remote)).toHaveLength(2); // the folder's file and its tree
  });
});

describe('gc --remote', () => {
  it('never deletes an object younger than 24 h; an older one nothing refers to goes', async () => {
    const { repo, remote } = await pushedProject();
    await push({ cwd: repo.dir });
    repo.write('v.txt', 'two\n');
    expect((await repro({ cwd: repo.dir })).ok).toBe(true);
    await push({ cwd: repo.dir });
    expect(objects(remote)).toHaveLength(6);
    const young = await gc({ cwd: repo.dir, remote: true });
    expect(young.remote).toMatchObject({ removed: 0, kept: 3, too_young: 3 });
    expect(young.local).toMatchObject({ removed: 3, kept: 3 });
    const later = await gc({ cwd: repo.dir, remote: true, dryRun: true, now: new Date(Date.now() + 25 * 3600 * 1000) });
    expect(later.remote).toMatchObject({ removed: 3, kept: 3, too_young: 0 });
    expect(objects(remote)).toHaveLength(6);
    await gc({ cwd: repo.dir, remote: true, now: new Date(Date.now() + 25 * 3600 * 1000) });
    expect(objects(remote)).toHaveLength(3);
  });
});

describe('status and a remote dvcl cannot use', () => {
  it('DVCL_REMOTE=ftp://… does not fail status', async () => {
    const { repo } = await pushedProject();
    fs.rmSync(path.join(repo.dir, 'o.txt'));
    const before = process.env.DVCL_REMOTE;
    process.env.DVCL_REMOTE = 'ftp://nowhere/x';
    try {
      const r = await status({ cwd: repo.dir, onWarning: () => {} });
      expect(r.stages[0].reasons).toContainEqual({ code: 'out_missing', path: 'o.txt', restorable: true });
    } finally {
      if (before === undefined) delete process.env.DVCL_REMOTE;
      else process.env.DVCL_REMOTE = before;
    }
  });
});

describe('the local cache that pull fills', () => {
  it('keeps a file of its own (an edit in place of the placed file leaves it intact); a corrupt one is fetched again by pull --force', async () => {
    const { repo } = await pushedProject();
    await push({ cwd: repo.dir });
    fs.rmSync(path.join(repo.dir, 'o.txt'));
    fs.rmSync(path.join(repo.dir, '.dvcl/objects'), { recursive: true });
    expect((await pull({ cwd: repo.dir })).placed).toEqual(['o.txt']);
    const p = await openProject({ cwd: repo.dir, readOnly: true });
    const obj = LocalCache.of(p.stateDir).file(p.lock.stages.s.outs.find((o) => o.path === 'o.txt')!.hash);
    expect(fs.statSync(obj).ino).not.toBe(fs.statSync(path.join(repo.dir, 'o.txt')).ino);
    fs.appendFileSync(path.join(repo.dir, 'o.txt'), 'edited\n');
    expect(fs.readFileSync(obj, 'utf8')).toBe('one\n');
    fs.writeFileSync(obj, 'bit rot\n');
    expect((await pull({ cwd: repo.dir })).failed.map((f) => f.path)).toEqual(['o.txt']); // the user's edit is kept
    const r = await pull({ cwd: repo.dir, force: true });
    expect(r.failed).toEqual([]); // the corrupt cache object is dropped and the remote's placed, not an error
    expect(repo.read('o.txt')).toBe('one\n');
    expect(fs.readFileSync(obj, 'utf8')).toBe('one\n');
    expect((await status({ cwd: repo.dir })).up_to_date).toBe(true);
  });
});

describe('gc and the run cache', () => {
  const runFiles = (dir: string) => {
    const out: string[] = [];
    const runs = path.join(dir, '.dvcl/runs');
    const walk = (d: string) => { if (!fs.existsSync(d)) return; for (const e of fs.readdirSync(d, { withFileTypes: true })) e.isDirectory() ? walk(path.join(d, e.name)) : out.push(path.relative(runs, path.join(d, e.name))); };
    walk(runs);
    return out.sort();
  };

  it('entries naming objects gc deleted go (a stage\'s whole, an items entry\'s pairs); the rest stay; a revert then runs the command', async () => {
    const rc = (n: number) => `version: 1\nstages:\n  s:\n    cmd: echo ${n} > o.txt\n    outs: [o.txt]\n  up:\n    foreach: in/*.txt\n    out: out/\${stem}.txt\n    cmd: (cat \${item}; echo ${n}) > \${out}\n`;
    const repo = await pipelineRepo(rc(1), { 'in/a.txt': 'a\n', 'in/b.txt': 'b\n' });
    expect((await repro({ cwd: repo.dir })).ok).toBe(true);
    const first = runFiles(repo.dir);
    expect(first.filter((f) => !f.startsWith('items/'))).toHaveLength(1);
    repo.write('.pipelinerc', rc(2));
    expect((await repro({ cwd: repo.dir })).ok).toBe(true);
    const both = runFiles(repo.dir);
    expect(both.filter((f) => !f.startsWith('items/'))).toHaveLength(2);
    // Entries dvcl cannot read (a damaged file, another format) are not its to judge: kept, and no failure.
    const junk = ['xxh128/00/not-json', 'items/xxh128/00/wrong-shape'];
    fs.mkdirSync(path.join(repo.dir, '.dvcl/runs/xxh128/00'), { recursive: true });
    fs.mkdirSync(path.join(repo.dir, '.dvcl/runs/items/xxh128/00'), { recursive: true });
    fs.writeFileSync(path.join(repo.dir, '.dvcl/runs', junk[0]), '{"version": 1, "outs": [tru');
    fs.writeFileSync(path.join(repo.dir, '.dvcl/runs', junk[1]), '{"version": 1, "items": ["a"]}');
    const dry = await gc({ cwd: repo.dir, dryRun: true });
    expect(dry.local.runs).toBe(2); // the old stage entry and the old items entry (its cmd changed: an entry of its own); nothing of the new
    expect(runFiles(repo.dir).filter((f) => !junk.includes(f))).toEqual(both);
    const r = await gc({ cwd: repo.dir });
    expect(r.local).toMatchObject({ removed: 3, runs: 2 });
    const left = runFiles(repo.dir).filter((f) => !junk.includes(f));
    for (const j of junk) expect(fs.existsSync(path.join(repo.dir, '.dvcl/runs', j)), j).toBe(true);
    expect(left.filter((f) => !f.startsWith('items/'))).toHaveLength(1);
    expect(left.filter((f) => !first.includes(f))).toEqual(left); // only the second run's entries are left
    repo.write('.pipelinerc', rc(1)); // back: nothing to restore here, so the commands run
    const again = await repro({ cwd: repo.dir });
    expect(again.ok).toBe(true);
    expect(again.stages.map((st) => st.result)).toEqual(['ran', 'ran']);
    expect(repo.read('o.txt')).toBe('1\n');
  });

  it('on the remote (gc --remote, older than 24 h): entries whose objects went are deleted, the current run\'s stay', async () => {
    const remote = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-remote-')));
    track({ dir: remote, git: () => '', write: () => {}, read: () => '', exists: () => false, cleanup: () => fs.rmSync(remote, { recursive: true, force: true }) });
    const rc = (n: number) => `version: 1\nsettings:\n  remote: ${JSON.stringify(remote)}\nstages:\n  s:\n    cmd: echo ${n} > o.txt\n    outs: [o.txt]\n  up:\n    foreach: in/*.txt\n    out: out/\${stem}.txt\n    cmd: (cat \${item}; echo ${n}) > \${out}\n`;
    const repo = await pipelineRepo(rc(1), { 'in/a.txt': 'a\n' });
    const remoteRuns = () => {
      const out: string[] = [];
      const walk = (d: string) => { if (fs.existsSync(d)) for (const e of fs.readdirSync(d, { withFileTypes: true })) e.isDirectory() ? walk(path.join(d, e.name)) : out.push(path.relative(remote, path.join(d, e.name))); };
      walk(path.join(remote, 'dvcl/v1/runs'));
      return out.sort();
    };
    expect((await repro({ cwd: repo.dir })).ok).toBe(true);
    await push({ cwd: repo.dir });
    const first = remoteRuns();
    expect(first).toHaveLength(2); // the stage's entry and the items entry
    repo.write('.pipelinerc', rc(2));
    expect((await repro({ cwd: repo.dir })).ok).toBe(true);
    await push({ cwd: repo.dir });
    expect(remoteRuns()).toHaveLength(4);
    const later = new Date(Date.now() + 2 * 24 * 3600 * 1000);
    expect((await gc({ cwd: repo.dir, remote: true })).remote).toMatchObject({ runs: 0 }); // all younger than 24 h
    expect((await gc({ cwd: repo.dir, remote: true, now: later, dryRun: true })).remote).toMatchObject({ runs: 2 });
    expect(remoteRuns()).toHaveLength(4);
    expect((await gc({ cwd: repo.dir, remote: true, now: later })).remote).toMatchObject({ removed: 2, runs: 2 });
    const left = remoteRuns();
    expect(left).toHaveLength(2);
    expect(left.some((k) => first.includes(k))).toBe(false); // only the second run's entries are left
  });

  it("an items entry loses only the pairs whose output went; it stays for the others", async () => {
    const repo = await pipelineRepo(`version: 1\nstages:\n  up:\n    foreach: in/*.txt\n    out: out/\${stem}.txt\n    cmd: tr a-z A-Z < \${item} > \${out}\n`, { 'in/a.txt': 'a\n', 'in/b.txt': 'b\n' });
    expect((await repro({ cwd: repo.dir })).ok).toBe(true);
    repo.write('in/a.txt', 'a, edited\n');
    expect((await repro({ cwd: repo.dir })).ok).toBe(true);
    const [entry] = runFiles(repo.dir);
    const file = path.join(repo.dir, '.dvcl/runs', entry);
    expect(Object.keys(JSON.parse(fs.readFileSync(file, 'utf8')).items['in/a.txt'])).toHaveLength(2); // the old input and the new
    expect((await gc({ cwd: repo.dir })).local).toMatchObject({ removed: 1, runs: 1 });
    expect(runFiles(repo.dir)).toEqual([entry]);
    const items = JSON.parse(fs.readFileSync(file, 'utf8')).items;
    expect([Object.keys(items['in/a.txt']).length, Object.keys(items['in/b.txt']).length]).toEqual([1, 1]);
    expect(fs.readdirSync(path.dirname(file)).filter((f) => f !== path.basename(file))).toEqual([]); // no temporary left
  });
});

describe('gc and what is not its own', () => {
  it('a symlinked folder inside .dvcl/objects/ is not followed: the files it leads to stay', async () => {
    const repo = await pipelineRepo('version: 1\nstages:\n  s:\n    cmd: echo one > o.txt\n    outs: [o.txt]\n');
    expect((await repro({ cwd: repo.dir })).ok).toBe(true);
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-elsewhere-'));
    track({ dir: elsewhere, git: () => '', write: () => {}, read: () => '', exists: () => false, cleanup: () => fs.rmSync(elsewhere, { recursive: true, force: true }) });
    const named = path.join(elsewhere, 'ab', 'c'.repeat(30)); // named like an object no lock refers to
    fs.mkdirSync(path.dirname(named), { recursive: true });
    fs.writeFileSync(named, 'the user\'s own file\n');
    fs.symlinkSync(elsewhere, path.join(repo.dir, '.dvcl/objects/linked'));
    fs.symlinkSync(path.join(elsewhere, 'ab'), path.join(repo.dir, '.dvcl/objects/xxh128/ab'));
    const r = await gc({ cwd: repo.dir });
    expect(r.local.removed).toBe(0);
    expect(fs.readFileSync(named, 'utf8')).toBe('the user\'s own file\n');
  });
});
