import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dvclSpawn, json, type CliResult } from './helpers/cli.js';

// Every configuration error of issue 2, through the built binary: exit 2, one message on stderr
// that points at the right line and column, nothing on stdout, no stack trace. Each case has its
// own folder, so they run concurrently.

const dvcl = (cwd: string, args: string[]): Promise<CliResult> => dvclSpawn(cwd, args).done;

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

function project(files: Record<string, string>): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-cfg-')));
  dirs.push(dir);
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

/** `line:col` (1-based) of the first `needle` in `text` at or after `after`. */
function pos(text: string, needle: string, after = ''): string {
  const i = text.indexOf(needle, after ? text.indexOf(after) : 0);
  if (i < 0 || (after && text.indexOf(after) < 0)) throw new Error(`fixture has no ${JSON.stringify(needle)}`);
  const before = text.slice(0, i);
  return `${before.split('\n').length}:${i - before.lastIndexOf('\n')}`;
}

function expectCleanFailure(r: CliResult): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).not.toContain('    at ');
  expect(r.stderr.match(/^Error: /gm)).toHaveLength(1);
}

interface Case {
  name: string;
  rc: string;
  files?: Record<string, string>;
  /** `file:line:col: key.path: message` expected on stderr; `where` is the line:col. */
  file?: string;
  where: string;
  key: string;
  message: string | RegExp;
  hint?: string;
}

const PER_ITEM = `version: 1
stages:
  parse:
    foreach: data/raw/*.html
    out: data/parsed/\${stem}.json
    cmd: node parse.js \${item} \${out}
`;

const cases: Case[] = [];
function add(c: Omit<Case, 'where'> & { where: (rc: string, files: Record<string, string>) => string }): void {
  cases.push({ ...c, where: c.where(c.rc, c.files ?? {}) });
}

add({
  name: 'invalid YAML: a duplicate key', rc: 'version: 1\nstages:\n  a:\n    cmd: echo 1\n    cmd: echo 2\n',
  where: (rc) => pos(rc, 'cmd: echo 2'), key: '', message: /invalid YAML: .*unique/,
});
add({
  name: 'invalid YAML: a badly indented key', rc: 'version: 1\nstages:\n  a:\n    cmd: echo\n   deps: [x]\n',
  where: (rc) => pos(rc, 'deps'), key: '', message: /invalid YAML: /,
});
add({
  name: 'unknown key, with a did-you-mean hint', rc: 'version: 1\nstages:\n  prepare:\n    cmdd: echo\n',
  where: (rc) => pos(rc, 'cmdd'), key: 'stages.prepare.cmdd', message: 'unknown key "cmdd"', hint: 'did you mean `cmd`?',
});
add({
  name: 'unknown top-level key', rc: 'version: 1\nstage:\n  a:\n    cmd: echo\n',
  where: (rc) => pos(rc, 'stage:'), key: 'stage', message: 'unknown key "stage"', hint: 'did you mean `stages`?',
});
add({
  name: 'wrong type: a string for a boolean', rc: 'version: 1\nstages:\n  a:\n    cmd: echo\n    persist: yes\n',
  where: (rc) => pos(rc, 'yes'), key: 'stages.a.persist', message: 'must be true or false, not string "yes"',
});
add({
  name: 'wrong type: a number for a list of paths', rc: 'version: 1\nstages:\n  a:\n    cmd: echo\n    deps: 3\n',
  where: (rc) => pos(rc, '3'), key: 'stages.a.deps', message: 'must be a list of paths, not number 3',
});
add({
  name: 'wrong type: a setting', rc: 'version: 1\nsettings:\n  jobs: four\nstages: {}\n',
  where: (rc) => pos(rc, 'four'), key: 'settings.jobs', message: /must be a whole number/,
});
add({
  name: 'bad stage name', rc: 'version: 1\nstages:\n  ok:\n    cmd: echo\n  bad name!:\n    cmd: echo\n',
  where: (rc) => pos(rc, 'bad name!'), key: 'stages.bad name!', message: 'invalid stage name "bad name!"', hint: 'stage names use letters, digits',
});
add({
  name: 'absolute path', rc: 'version: 1\nstages:\n  a:\n    cmd: echo\n    deps:\n      - data/in.csv\n      - /etc/passwd\n',
  where: (rc) => pos(rc, '/etc/passwd'), key: 'stages.a.deps[1]', message: '"/etc/passwd" is absolute',
});
add({
  name: 'a path climbing out of the root with ..', rc: 'version: 1\nstages:\n  a:\n    cmd: echo\n    outs: [reports/../../x]\n',
  where: (rc) => pos(rc, 'reports/..'), key: 'stages.a.outs[0]', message: '"reports/../../x" climbs out of the project root',
});
add({
  name: 'the same out in two stages',
  rc: 'version: 1\nstages:\n  a:\n    cmd: echo\n    outs: [data/x]\n  b:\n    cmd: echo\n    outs: [data/y, data/x]\n',
  where: (rc) => pos(rc, 'data/x', '  b:'), key: 'stages.b.outs[1]', message: 'data/x overlaps data/x, an output of stage a',
});
add({
  name: 'nested outs in two stages',
  rc: 'version: 1\nstages:\n  a:\n    cmd: echo\n    outs: [data/x/y.csv]\n  b:\n    cmd: echo\n    outs:\n      - data\n',
  where: (rc) => pos(rc, 'data', '  b:'), key: 'stages.b.outs[0]', message: 'data overlaps data/x/y.csv, an output of stage a',
});
add({
  name: 'a per-item out clashing with another stage\'s out',
  rc: `${PER_ITEM}  merge:\n    cmd: echo\n    outs: [data/parsed/all.json]\n`,
  where: (rc) => pos(rc, 'data/parsed/all.json'), key: 'stages.merge.outs[0]', message: 'data/parsed/all.json overlaps data/parsed/${stem}.json, an output of stage parse',
});
add({
  name: 'a dep among another stage\'s per-item outs that it never produces',
  rc: `${PER_ITEM}  report:\n    cmd: echo\n    deps: [data/parsed, data/parsed/summary.csv]\n`,
  where: (rc) => pos(rc, 'data/parsed/summary.csv'), key: 'stages.report.deps[1]', message: /data\/parsed\/summary\.csv lies among the per-item outputs data\/parsed\/\$\{stem\}\.json/,
  hint: 'stage parse writes data/parsed/${stem}.json',
});
add({
  name: 'a cycle through three stages',
  rc: 'version: 1\nstages:\n  a:\n    cmd: echo\n    deps: [z]\n    outs: [x]\n  b:\n    cmd: echo\n    deps: [x]\n    outs: [y]\n  c:\n    cmd: echo\n    deps: [y]\n    outs: [z]\n',
  // The message names every stage on the cycle; it is reported at one of them (checked below).
  where: () => '', key: '', message: /cycle: ([abc]) → (?!\1)[abc] → (?!\1)[abc] → \1/,
});
add({
  name: 'a stage reading its own out',
  rc: 'version: 1\nstages:\n  a:\n    cmd: echo\n  loop:\n    cmd: echo\n    deps: [data/out/part.csv]\n    outs: [data/out]\n',
  where: (rc) => pos(rc, 'loop'), key: 'stages.loop', message: 'stage loop depends on its own output',
});
add({
  name: 'a missing params file',
  rc: 'version: 1\nstages:\n  a:\n    cmd: echo\n    params: [train.lr]\n',
  where: (rc) => pos(rc, 'train.lr'), key: 'stages.a.params[0]', message: 'params file params.yaml does not exist',
});
add({
  name: 'a missing params file named per stage',
  rc: 'version: 1\nstages:\n  a:\n    cmd: echo\n    params:\n      - other.yaml: [train.lr]\n',
  where: (rc) => pos(rc, 'other.yaml'), key: 'stages.a.params[0].other.yaml', message: 'params file other.yaml does not exist',
});
add({
  name: 'a missing params key',
  rc: 'version: 1\nstages:\n  a:\n    cmd: echo\n    params: [train.lr, train.epocs]\n',
  files: { 'params.yaml': 'train:\n  lr: 0.1\n  epochs: 3\n' },
  where: (rc) => pos(rc, 'train.epocs'), key: 'stages.a.params[1]', message: 'parameter train.epocs is not in params.yaml', hint: 'did you mean `train.epochs`?',
});
add({
  name: 'a missing params key in a named file',
  rc: 'version: 1\nstages:\n  a:\n    cmd: echo\n    params:\n      - p.json: [lr, seed]\n      - train.lr\n',
  files: { 'p.json': '{"lr": 1}', 'params.yaml': 'train: {lr: 1}\n' },
  where: (rc) => pos(rc, 'seed'), key: 'stages.a.params[0].p.json[1]', message: 'parameter seed is not in p.json',
});
add({
  name: 'a misspelt template variable', rc: PER_ITEM.replace('${item} ${out}', '${itme} ${out}'),
  where: (rc) => pos(rc, 'node parse.js'), key: 'stages.parse.cmd', message: 'unknown template variable ${itme}', hint: 'did you mean ${item}?',
});
add({
  name: 'a dotted template, as DVC interpolates params (issue 12.6)', rc: PER_ITEM.replace('${item} ${out}', '${item} ${out} --lr ${train.lr}'),
  where: (rc) => pos(rc, 'node parse.js'), key: 'stages.parse.cmd', message: '${train.lr} is not a dvcl template: dvcl does not substitute parameters into commands', hint: 'read the parameter in your script',
});
add({
  name: 'a dotted item template (issue 12.6)', rc: PER_ITEM.replace('${item} ${out}', '${item.thresh} ${out}'),
  where: (rc) => pos(rc, 'node parse.js'), key: 'stages.parse.cmd', message: '${item.thresh} is not a dvcl template: dvcl does not substitute parameters into commands',
});
add({
  name: 'an item variable in a stage that is not per-item',
  rc: 'version: 1\nstages:\n  a:\n    cmd:\n      - echo start\n      - node run.js ${item}\n',
  where: (rc) => pos(rc, 'node run.js'), key: 'stages.a.cmd[1]', message: '${item} is not available here', hint: 'only in per-item stages',
});
add({
  name: 'a bad setting in .pipelinerc.local', rc: 'version: 1\nsettings:\n  jobs: 2\nstages: {}\n',
  files: { '.pipelinerc.local': 'settings:\n  jobs: 0\n' }, file: '.pipelinerc.local',
  where: (_, f) => pos(f['.pipelinerc.local'], '0'), key: 'settings.jobs', message: /must be a whole number of at least 1, not 0/,
});
add({
  name: 'an unknown setting in .pipelinerc.local', rc: 'version: 1\nstages: {}\n',
  files: { '.pipelinerc.local': '# this machine\nsettings:\n  hahs: md5\n' }, file: '.pipelinerc.local',
  where: (_, f) => pos(f['.pipelinerc.local'], 'hahs'), key: 'settings.hahs', message: 'unknown key "hahs"', hint: 'did you mean `hash`?',
});

// Issue 11, point 4: outs are removed before their stage runs, so an out where git or dvcl keep
// their state (or the root itself, or a params file) would destroy it. Refused at its line.
const RESERVED_HINT = "a stage's outs are removed before it runs";
const stageOut = (out: string, extra = '') => `version: 1\nstages:\n  a:\n    cmd: echo\n${extra}    outs:\n      - keep.txt\n      - ${out}\n`;
const RESERVED: [string, string][] = [
  ['.git', `".git" is git's repository`],
  ['.git/hooks/pre-commit', `".git/hooks/pre-commit" lies in .git, git's repository`],
  ['./.git/', `"./.git/" is git's repository`],
  ['.GIT', `".GIT" is git's repository`],
  ['vendor/lib/.git', `"vendor/lib/.git" is a nested git repository`],
  ['.dvcl', `".dvcl" is dvcl's state folder`],
  ['.dvcl/cache/hashes', `".dvcl/cache/hashes" lies in .dvcl, dvcl's state folder`],
  ['pipeline.lock', `"pipeline.lock" is dvcl's lock file`],
  ['pipeline.lock.tmp-1-ab', `"pipeline.lock.tmp-1-ab" is a temporary file of dvcl's lock file`],
  ['.manifest.json', `".manifest.json" is dvcl's manifest`],
  ['.manifest.json.bak', `".manifest.json.bak" is a backup or temporary file of dvcl's manifest`],
  ['.pipelinerc', `".pipelinerc" is the pipeline's configuration`],
  ['.pipelinerc.local', `".pipelinerc.local" is this machine's pipeline settings`],
  ['.', `"." is the project root`],
  ['"./"', `"./" is the project root`],
  ['data/..', `"data/.." is the project root`],
];
for (const [out, message] of RESERVED) {
  const needle = out.startsWith('"') ? out : `- ${out}\n`;
  add({
    name: `an out that is or lies in a reserved place: ${out}`, rc: stageOut(out),
    where: (rc) => { const w = pos(rc, needle); return out.startsWith('"') ? w : w.replace(/:(\d+)$/, (_, c) => `:${Number(c) + 2}`); },
    key: 'stages.a.outs[1]', message, hint: RESERVED_HINT,
  });
}
add({
  name: 'an out that is .git, written as one path (not a list)', rc: 'version: 1\nstages:\n  a:\n    cmd: echo\n    outs: .git\n',
  where: (rc) => pos(rc, '.git'), key: 'stages.a.outs', message: `".git" is git's repository`, hint: RESERVED_HINT,
});
add({
  // Outs are relative to the project root whatever `wdir` says: `.git` is still the root's.
  name: 'an out that is .git in a stage with a wdir', rc: stageOut('.git', '    wdir: sub\n'),
  where: (rc) => pos(rc, '.git'), key: 'stages.a.outs[1]', message: `".git" is git's repository`,
});
add({
  name: 'an out that is a params file a stage reads', rc: stageOut('params.yaml', '    params: [train.lr]\n'),
  files: { 'params.yaml': 'train: {lr: 1}\n' },
  where: (rc) => pos(rc, 'params.yaml'), key: 'stages.a.outs[1]', message: '"params.yaml" is the params file params.yaml, read by stage a', hint: RESERVED_HINT,
});
add({
  name: 'an out that contains a params file another stage reads',
  rc: 'version: 1\nstages:\n  a:\n    cmd: echo\n    outs: [conf]\n  b:\n    cmd: echo\n    params:\n      - conf/p.yaml: [x]\n',
  files: { 'conf/p.yaml': 'x: 1\n' },
  where: (rc) => pos(rc, 'conf]'), key: 'stages.a.outs[0]', message: '"conf" contains the params file conf/p.yaml, read by stage b',
});
add({
  name: 'an out that is the params file `params:` names',
  rc: 'version: 1\nparams: settings.yaml\nstages:\n  a:\n    cmd: echo\n    outs: [settings.yaml]\n',
  where: (rc) => pos(rc, 'settings.yaml]'), key: 'stages.a.outs[0]', message: '"settings.yaml" is the params file settings.yaml, named by `params:`',
});
const RESERVED_TEMPLATES: [string, string][] = [
  ['.git/${stem}.json', `".git/\${stem}.json" would write into .git, which is git's repository`],
  ['.dvcl/parsed/${stem}.json', `".dvcl/parsed/\${stem}.json" would write into .dvcl/parsed, which lies in .dvcl, dvcl's state folder`],
  ['${dir}/.git/${name}', `"\${dir}/.git/\${name}" would write into \${dir}/.git, a git repository's own folder`],
  ['pipeline.lock/${stem}', `"pipeline.lock/\${stem}" would write into pipeline.lock, which is dvcl's lock file`],
];
for (const [out, message] of RESERVED_TEMPLATES) {
  add({
    name: `a per-item out template in a reserved folder: ${out}`, rc: PER_ITEM.replace('data/parsed/${stem}.json', out),
    where: (rc) => pos(rc, out), key: 'stages.parse.out', message, hint: RESERVED_HINT,
  });
}
add({
  name: 'a per-item out template in a folder holding a params file',
  rc: PER_ITEM.replace('data/parsed/${stem}.json', 'conf/${stem}.yaml') + '    params: [{conf/p.yaml: [x]}]\n',
  files: { 'conf/p.yaml': 'x: 1\n' },
  where: (rc) => pos(rc, 'conf/${stem}'), key: 'stages.parse.out', message: '"conf/${stem}.yaml" would write into conf, which contains the params file conf/p.yaml, read by stage parse',
});

describe.concurrent('configuration errors through the built binary', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const dir = project({ '.pipelinerc': c.rc, ...c.files });
      const r = await dvcl(dir, ['status']);
      expectCleanFailure(r);
      const line = r.stderr.split('\n')[0];
      const m = /^Error: (\.pipelinerc(?:\.local)?):(\d+):(\d+): (.*)$/.exec(line);
      expect(m, line).not.toBeNull();
      const [, file, l, col, rest] = m!;
      expect(file).toBe(c.file ?? '.pipelinerc');
      let key = c.key;
      let where = c.where;
      if (c.name.startsWith('a cycle')) {
        // Reported at the stage it names first.
        const first = /cycle: (\w+)/.exec(rest)![1];
        key = `stages.${first}`;
        where = pos(c.rc, `${first}:`, `\n  ${first}:`);
      }
      expect(`${l}:${col}`).toBe(where);
      const message = key ? rest.slice(key.length + 2) : rest;
      if (key) expect(rest.startsWith(`${key}: `), rest).toBe(true);
      if (typeof c.message === 'string') expect(message).toContain(c.message);
      else expect(message).toMatch(c.message);
      if (c.hint) expect(r.stderr).toMatch(new RegExp(`^  hint: .*${c.hint.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'));
    });
  }

  it('the same error from `dvcl dag`', async () => {
    const rc = 'version: 1\nstages:\n  prepare:\n    cmdd: echo\n';
    const r = await dvcl(project({ '.pipelinerc': rc }), ['dag']);
    expectCleanFailure(r);
    expect(r.stderr).toContain(`Error: .pipelinerc:${pos(rc, 'cmdd')}: stages.prepare.cmdd: unknown key "cmdd"\n  hint: did you mean \`cmd\`?\n`);
  });

  it('--json: one JSON document on stdout with the error', async () => {
    const rc = 'version: 1\nstages:\n  prepare:\n    cmdd: echo\n';
    const r = await dvcl(project({ '.pipelinerc': rc }), ['status', '--json']);
    expect(r.code).toBe(2);
    const doc = json(r);
    expect(doc.error.message).toBe(`.pipelinerc:${pos(rc, 'cmdd')}: stages.prepare.cmdd: unknown key "cmdd"`);
    expect(doc.error.suggestions).toEqual(['did you mean `cmd`?']);
    expect(r.stderr).not.toContain('    at ');
  });

  it('no .pipelinerc up the tree: exit 2 and a pointer to `dvcl init`', async () => {
    const dir = project({ 'sub/readme.txt': 'x' });
    const r = await dvcl(path.join(dir, 'sub'), ['status']);
    expectCleanFailure(r);
    expect(r.stderr).toContain(`no .pipelinerc found in ${path.join(dir, 'sub')}`);
    expect(r.stderr).toContain('dvcl init');
  });

  it('an unknown stage on the command line: exit 2, with the closest name', async () => {
    const dir = project({ '.pipelinerc': 'version: 1\nstages:\n  prepare:\n    cmd: echo\n  train:\n    cmd: echo\n' });
    const r = await dvcl(dir, ['status', 'prepar']);
    expectCleanFailure(r);
    expect(r.stderr).toBe('Error: unknown stage "prepar"\n  hint: did you mean "prepare"?\n');
  });

  it('walks up from a subfolder to the project root', async () => {
    const rc = 'version: 1\nstages:\n  prepare:\n    cmd: echo\n    outs: [data/prepared]\n  train:\n    cmd: echo\n    deps: [data/prepared]\n';
    const dir = project({ '.pipelinerc': rc, 'src/deep/er/file.txt': '' });
    const r = await dvcl(path.join(dir, 'src/deep/er'), ['dag', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r).edges).toEqual([{ from: 'prepare', to: 'train', dep: 'data/prepared', out: 'data/prepared' }]);

    fs.writeFileSync(path.join(dir, '.pipelinerc'), rc.replace('deps:', 'depz:'));
    const bad = await dvcl(path.join(dir, 'src/deep'), ['status']);
    expectCleanFailure(bad);
    expect(bad.stderr).toContain('Error: .pipelinerc:8:5: stages.train.depz: unknown key "depz"');
  });
});
