// Outputs that travel (issue 14, SPEC §10) through the built CLI, with a folder remote: two clones
// of one repository whose outputs are git-ignored, branches, the user's files, hostile names,
// corrupt objects, and a missing or unreachable remote.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { json, type CliResult } from './helpers/cli.js';
import { cleanupRepos, pipelineRepo, track, withShortcuts, type PipelineRepo } from './helpers/pipeline.js';

afterEach(cleanupRepos);

const ok = (r: CliResult) => {
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return r;
};

/** A folder to serve as the team's remote, removed with the repos. */
function remoteFolder(): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-remote-')));
  track({ dir, git: () => '', write: () => {}, read: () => '', exists: () => false, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) });
  return dir;
}

/** A clone of `repo` in a fresh folder (through a bare copy, as teammates get it). */
function clone(repo: PipelineRepo): PipelineRepo {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-clone-')));
  const dir = path.join(base, 'b');
  const r = spawnSync('git', ['clone', '-q', repo.dir, dir], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const git = (...args: string[]) => spawnSync('git', args, { cwd: dir, encoding: 'utf8' }).stdout.trim();
  const b = withShortcuts({
    dir, git, write: (rel, text) => { fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true }); fs.writeFileSync(path.join(dir, rel), text); },
    read: (rel) => fs.readFileSync(path.join(dir, rel), 'utf8'), exists: (rel) => fs.existsSync(path.join(dir, rel)),
    cleanup: () => fs.rmSync(base, { recursive: true, force: true }),
  });
  track(b);
  return b;
}

const HOSTILE = ['a b.txt', `q"uo'te.txt`, 'new\nline.txt', 'ünï cødé ✓.txt'];

/** prepare (a file and a folder), parse (per item), report (reads both): outputs git-ignored. */
const RC = (remote: string) => `version: 1
settings:
  remote: ${JSON.stringify(remote)}
stages:
  prepare:
    cmd: mkdir -p data/prep/sub && cp in/a\\ b.txt data/prep/first.txt && printf 'x' > data/prep/sub/deep.bin && cp -R in data/prep/inputs && printf 'model' > model.bin && echo prepare >> runs.log
    deps: [in]
    outs: [data/prep, model.bin]
  parse:
    foreach: in/*.txt
    out: parsed/\${name}.json
    cmd: cat \${item} > \${out} && echo parse >> runs.log
  report:
    cmd: ls parsed data/prep > report.txt && echo report >> runs.log
    deps: [parsed, data/prep]
    outs: [report.txt]
`;

async function teamProject(): Promise<{ a: PipelineRepo; remote: string }> {
  const remote = remoteFolder();
  const files: Record<string, string> = {};
  HOSTILE.forEach((n, i) => { files[`in/${n}`] = `content ${i} of ${JSON.stringify(n)}\n`; });
  const a = await pipelineRepo(RC(remote), { ...files, '.gitignore': '.dvcl/\nruns.log\ndata/\nparsed/\nmodel.bin\nreport.txt\n' });
  ok(a.run('repro'));
  expect(a.takeRuns().sort()).toEqual(['parse', 'parse', 'parse', 'parse', 'prepare', 'report']);
  a.commitAll('ran');
  return { a, remote };
}

/** Every file below `dir` (relative path → bytes), for byte-exact comparisons. */
function snapshot(root: string, rels: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    const p = path.join(root, rel);
    const st = fs.lstatSync(p);
    if (st.isDirectory()) for (const n of fs.readdirSync(p)) walk(`${rel}/${n}`);
    else out[rel] = fs.readFileSync(p).toString('base64');
  };
  for (const r of rels) walk(r);
  return out;
}

const OUTPUTS = ['data', 'parsed', 'model.bin', 'report.txt'];

describe('two clones and a folder remote', () => {
  it('A pushes; B clones, pulls: status up to date, repro runs nothing; hostile names round-trip byte-exact', async () => {
    const { a, remote } = await teamProject();
    const pushed = json(ok(a.run('push', '--json')));
    expect(pushed).toMatchObject({ skipped: 0, failed: [] });
    // 12 files and a tree in 8 objects: the parsed outputs, the copies in data/prep/inputs and first.txt share contents.
    expect(pushed.transferred).toBe(8);
    expect(Object.keys(pushed).slice(0, 4)).toEqual(['transferred', 'skipped', 'failed', 'bytes']);
    expect(fs.readdirSync(path.join(remote, 'dvcl/v1/objects'))).toEqual(['xxh128']);
    // Pushing again uploads nothing.
    expect(json(ok(a.run('push', '--json')))).toMatchObject({ transferred: 0, skipped: pushed.transferred, failed: [] });

    const b = clone(a);
    const before = b.status();
    expect(before.up_to_date).toBe(false);
    expect(before.stages.find((s) => s.name === 'prepare')!.reasons).toContainEqual({ code: 'out_missing', path: 'model.bin', ignored: true });
    // The CI check of a repository whose outputs are not committed.
    expect(b.run('status', '--check').code).toBe(1);
    const allowed = ok(b.run('status', '--check', '--allow-missing', '--json'));
    expect(json(allowed)).toMatchObject({ up_to_date: true, missing_only: ['prepare', 'parse', 'report'] });

    const pulled = json(ok(b.run('pull', '--json')));
    expect(pulled).toMatchObject({ failed: [], skipped: 0 });
    expect(pulled.placed).toContain('parsed/new\nline.txt.json');
    expect(pulled.placed).toContain('data/prep/inputs/new\nline.txt');
    expect(b.status().up_to_date).toBe(true);
    expect(snapshot(b.dir, OUTPUTS)).toEqual(snapshot(a.dir, OUTPUTS));
    // status read the placed files from the stat cache: they are in it.
    const statCache = b.read('.dvcl/cache/stat-xxh128');
    for (const f of ['model.bin', 'report.txt', 'data/prep/sub/deep.bin', JSON.stringify('parsed/new\nline.txt.json')]) expect(statCache).toContain(f);
    const r = json(ok(b.run('repro', '--json')));
    expect(r.stages.map((s: { result: string }) => s.result)).toEqual(['skipped', 'skipped', 'skipped']);
    expect(b.takeRuns()).toEqual([]);
    // A second pull has nothing to do.
    expect(json(ok(b.run('pull', '--json')))).toMatchObject({ transferred: 0, failed: [] });
  });

  it('status says what is restorable, without the network; checkout brings back what the local cache has', async () => {
    const { a } = await teamProject();
    ok(a.run('push'));
    fs.rmSync(path.join(a.dir, 'model.bin'));
    fs.rmSync(path.join(a.dir, 'parsed'), { recursive: true });
    const st = a.status();
    expect(st.stages.find((s) => s.name === 'prepare')!.reasons).toEqual([{ code: 'out_missing', path: 'model.bin', ignored: true, restorable: true }]);
    expect(st.stages.find((s) => s.name === 'parse')!.reasons).toEqual([{ code: 'items_pending', count: 4, outputs_missing: 4, restorable: true }]);
    const text = a.run('status').stdout;
    expect(text).toContain('out model.bin is missing (restorable: `dvcl checkout` or `dvcl pull`');
    ok(a.run('checkout'));
    expect(a.status().up_to_date).toBe(true);
    expect(a.takeRuns()).toEqual([]);
  });

  it('pull and checkout never overwrite a file edited by hand: listed, exit 1; --force overwrites', async () => {
    const { a } = await teamProject();
    ok(a.run('push'));
    const b = clone(a);
    b.write('model.bin', 'my own model');
    const r = b.run('pull');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('✘ model.bin: modified since dvcl recorded it: not overwritten (--force overwrites)');
    expect(b.read('model.bin')).toBe('my own model');
    expect(b.read('report.txt')).toBe(a.read('report.txt')); // the rest was placed
    const rj = b.run('pull', '--json');
    expect(rj.code).toBe(1);
    expect(json(rj).failed).toEqual([{ path: 'model.bin', reason: 'modified since dvcl recorded it: not overwritten (--force overwrites)' }]);
    b.write('report.txt', 'edited');
    const c = b.run('checkout', '--json');
    expect(c.code).toBe(1);
    expect(json(c).failed.map((f: { path: string }) => f.path)).toEqual(['model.bin', 'report.txt']);
    // checkout has no network: what pull never downloaded, --force cannot place either.
    const forced = b.run('checkout', '--force', '--json');
    expect(json(forced).failed).toEqual([{ path: 'model.bin', reason: 'not in the local cache (`dvcl pull` fetches it from the remote)' }]);
    expect(b.read('report.txt')).toBe(a.read('report.txt'));
    ok(b.run('pull', '--force'));
    expect(b.read('model.bin')).toBe('model');
    expect(b.status().up_to_date).toBe(true);
    // An outdated file that dvcl placed (its content is in the local cache) is not the user's: replaced without --force.
    const first = a.read('report.txt');
    a.write('in/extra.txt', 'more\n');
    ok(a.run('repro'));
    a.commitAll('more');
    ok(a.run('push'));
    b.git('pull', '-q');
    expect(b.read('report.txt')).toBe(first);
    ok(b.run('pull'));
    expect(b.read('report.txt')).toBe(a.read('report.txt'));
    expect(b.status().up_to_date).toBe(true);
  });

  it('an object whose content does not match its name is reported by name and never placed', async () => {
    const { a, remote } = await teamProject();
    ok(a.run('push'));
    const hash = (a.lock()!.match(/path: model\.bin\n\s+hash: (xxh128:[0-9a-f]+)/) ?? [])[1];
    expect(hash).toBeDefined();
    const hex = hash.slice('xxh128:'.length);
    const key = `dvcl/v1/objects/xxh128/${hex.slice(0, 2)}/${hex.slice(2)}`;
    fs.writeFileSync(path.join(remote, key), 'not the model');
    const b = clone(a);
    const r = b.run('pull', '--json');
    expect(r.code).toBe(1);
    const res = json(r);
    expect(res.failed).toEqual([{ path: 'model.bin', reason: expect.stringContaining(`object ${key} is corrupt: expected ${hash}`) }]);
    expect(b.exists('model.bin')).toBe(false);
    expect(fs.readdirSync(b.dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
    expect(b.exists('report.txt')).toBe(true);
  });
});

describe('git checkout between branches, then dvcl checkout', () => {
  it("restores each branch's outputs, running nothing", async () => {
    const repo = await pipelineRepo(`version: 1
stages:
  gen:
    cmd: mkdir -p out && cat msg.txt > out/msg.txt && cat msg.txt msg.txt > twice.txt && echo gen >> runs.log
    deps: [msg.txt]
    outs: [out, twice.txt]
`, { 'msg.txt': 'main\n', '.gitignore': '.dvcl/\nruns.log\nout/\ntwice.txt\n' });
    ok(repo.run('repro'));
    repo.commitAll('main ran');
    repo.git('checkout', '-q', '-b', 'exp');
    repo.write('msg.txt', 'experiment\n');
    ok(repo.run('repro'));
    repo.commitAll('exp ran');
    expect(repo.takeRuns()).toEqual(['gen', 'gen']);

    repo.git('checkout', '-q', 'main');
    expect(repo.read('out/msg.txt')).toBe('experiment\n'); // git leaves ignored outputs as they were
    expect(repo.status().up_to_date).toBe(false);
    ok(repo.run('checkout'));
    expect(repo.read('out/msg.txt')).toBe('main\n');
    expect(repo.read('twice.txt')).toBe('main\nmain\n');
    expect(repo.status().up_to_date).toBe(true);

    repo.git('checkout', '-q', 'exp');
    const r = json(ok(repo.run('checkout', '--json')));
    expect(r).toMatchObject({ transferred: 2, failed: [] });
    expect(repo.read('out/msg.txt')).toBe('experiment\n');
    expect(repo.status().up_to_date).toBe(true);
    expect(json(ok(repo.run('repro', '--json'))).stages[0].result).toBe('skipped');
    expect(repo.takeRuns()).toEqual([]);
  });
});

describe('no remote, an unreachable remote', () => {
  it('no remote configured: exit 2 with a hint', async () => {
    const repo = await pipelineRepo('version: 1\nstages:\n  s:\n    cmd: echo x > o.txt\n    outs: [o.txt]\n');
    ok(repo.run('repro'));
    for (const cmd of ['push', 'pull']) {
      const r = repo.run(cmd);
      expect(r.code, cmd).toBe(2);
      expect(r.stderr).toBe('Error: no remote configured\n  hint: set settings.remote in .pipelinerc (or .pipelinerc.local), or DVCL_REMOTE, or pass -r URL\n');
      expect(r.stdout).toBe('');
    }
    const j = repo.run('push', '--json');
    expect(j.code).toBe(2);
    expect(json(j)).toMatchObject({ error: { message: 'no remote configured' }, exit: 2 });
    expect(repo.run('gc', '--remote').code).toBe(2);
  });

  it('a folder remote that is not there: exit 1, one message naming the remote, no stack', async () => {
    const repo = await pipelineRepo('version: 1\nsettings:\n  remote: /nonexistent/dvcl-share\nstages:\n  s:\n    cmd: echo x > o.txt\n    outs: [o.txt]\n');
    ok(repo.run('repro'));
    for (const cmd of ['push', 'pull']) {
      const r = repo.run(cmd);
      expect(r.code, cmd).toBe(1);
      expect(r.stderr.split('\n')[0]).toBe('Error: remote /nonexistent/dvcl-share: folder /nonexistent/dvcl-share does not exist');
      expect(r.stderr).not.toContain('    at ');
    }
    // -r overrides the settings.
    const other = remoteFolder();
    expect(json(ok(repo.run('push', '-r', other, '--json')))).toMatchObject({ transferred: 1, remote: other });
  });

  it('an unknown flag value: a bad -r is exit 2 naming it', async () => {
    const repo = await pipelineRepo('version: 1\nstages: {}\n');
    const r = repo.run('pull', '-r', 'ftp://x');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('remote "ftp://x": unknown scheme ftp://');
  });
});

describe('gc', () => {
  it('deletes what no lock refers to, keeps what a commit refers to with --all-commits', async () => {
    const repo = await pipelineRepo('version: 1\nstages:\n  s:\n    cmd: cat v.txt > o.txt\n    deps: [v.txt]\n    outs: [o.txt]\n', { 'v.txt': 'one\n', '.gitignore': '.dvcl/\no.txt\n' });
    ok(repo.run('repro'));
    repo.commitAll('one');
    repo.write('v.txt', 'two\n');
    ok(repo.run('repro'));
    // Not committed: the working tree refers to "two" only; the commit to "one".
    expect(json(ok(repo.run('gc', '--all-commits', '--dry-run', '--json')))).toMatchObject({ local: { removed: 0, kept: 2 }, dry_run: true });
    expect(json(ok(repo.run('gc', '--dry-run', '--json')))).toMatchObject({ local: { removed: 1, kept: 1 } });
    const r = json(ok(repo.run('gc', '--json')));
    expect(r).toMatchObject({ local: { removed: 1, kept: 1, bytes: 4 }, referenced: 1 });
    expect(ok(repo.run('gc')).stdout).toContain('local cache: deleted 0 objects');
  });
});

describe('per-item outputs that are directories', () => {
  const ITEM_DIRS = (remote: string) => `version: 1
settings:
  remote: ${JSON.stringify(remote)}
stages:
  split:
    foreach: in/*.txt
    out: parts/\${name}
    cmd: mkdir -p \${out}/sub && cp \${item} \${out}/copy && printf 'deep' > \${out}/sub/deep && echo split >> runs.log
`;

  it('travel as directories: push, pull into a clone, gc keeps their files; a file in place of one is not the output', async () => {
    const remote = remoteFolder();
    const a = await pipelineRepo(ITEM_DIRS(remote), { 'in/x.txt': 'x\n', 'in/y.txt': 'y\n', '.gitignore': '.dvcl/\nruns.log\nparts/\n' });
    ok(a.run('repro'));
    a.commitAll('ran');
    expect(JSON.parse(a.manifest()!).stages.split.items['in/x.txt'].output_nfiles).toBe(2);
    ok(a.run('push'));
    const before = snapshot(a.dir, ['parts']);
    ok(a.run('gc'));
    fs.rmSync(path.join(a.dir, 'parts'), { recursive: true });
    ok(a.run('checkout'));
    expect(snapshot(a.dir, ['parts'])).toEqual(before);
    const b = clone(a);
    ok(b.run('pull'));
    expect(snapshot(b.dir, ['parts'])).toEqual(snapshot(a.dir, ['parts']));
    expect(fs.statSync(path.join(b.dir, 'parts/x.txt')).isDirectory()).toBe(true);
    expect(b.status().up_to_date).toBe(true);
    // repro brings a deleted one back as a directory (the run cache restores files only: it runs).
    fs.rmSync(path.join(b.dir, 'parts/x.txt'), { recursive: true });
    ok(b.run('repro'));
    expect(fs.statSync(path.join(b.dir, 'parts/x.txt')).isDirectory()).toBe(true);
    expect(b.status().up_to_date).toBe(true);
    // What an older pull placed: the directory's tree text as a file. Same hash, not the output.
    const text = fs.readFileSync(path.join(remote, 'dvcl/v1/objects/xxh128', ...(() => {
      const hex = JSON.parse(a.manifest()!).stages.split.items['in/y.txt'].output_hash.slice('xxh128:'.length);
      return [hex.slice(0, 2), hex.slice(2)];
    })()));
    fs.rmSync(path.join(b.dir, 'parts/y.txt'), { recursive: true });
    fs.writeFileSync(path.join(b.dir, 'parts/y.txt'), text);
    const st = b.status();
    expect(st.up_to_date).toBe(false);
    expect(st.stages[0].reasons).toContainEqual(expect.objectContaining({ code: 'items_pending', count: 1 }));
  });
});
