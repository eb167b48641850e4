import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/core/config/load.js';
import { dvcl, json } from '../helpers/cli.js';
import { gitRepo, type GitRepo } from '../helpers/git-repo.js';
import { lines, scratch, STACK, tree } from './support.js';

// Issue 7, hostile input: file names that are shell code, paths that leave the project, links that
// lead out of it, and names that collide with JavaScript's own (`constructor`, `__proto__`). dvcl
// must run nothing a name smuggles in, refuse what leaves the root, and delete nothing outside it.

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

async function project(files: Record<string, string>): Promise<{ repo: GitRepo; ctl: string; env: Record<string, string> }> {
  const repo = await gitRepo({ '.gitignore': '.dvcl/\n', ...files });
  const ctl = scratch('dvcl-reli-host-');
  cleanups.push(repo.cleanup, ctl.cleanup);
  return { repo, ctl: ctl.dir, env: { RELI_CTL: ctl.dir } };
}

/** Names that are shell syntax, YAML syntax, glob syntax or control characters. */
const NASTY = [
  'a b.txt', "it's.txt", 'say "hi".txt', 'x;touch INJECTED1.txt', '$(touch INJECTED2).txt', '`touch INJECTED3`.txt',
  'new\nline.txt', '-rf.txt', '--help.txt', 'ü€😀.txt', '${item}.txt', '$HOME.txt', '*.txt', '?.txt', '[a].txt',
  '#hash.txt', 'key: value.txt', '- dash.txt', '& amp | pipe > gt.txt', 'back\\slash.txt', '%d %s.txt', '\ttab.txt', '{a,b}.txt',
];

describe('file names that are code', () => {
  it('as items and as deps: each is one argument, recorded exactly, and nothing in them runs', async () => {
    const files: Record<string, string> = {};
    for (const n of NASTY) files[`in/${n}`] = `content of ${n}\n`;
    const deps = NASTY.map((n) => JSON.stringify(`in/${n}`)).join(', ');
    const { repo, ctl, env } = await project({
      ...files,
      '.pipelinerc': `version: 1
stages:
  each:
    foreach: in/*
    out: out/\${name}.out
    cmd: cp \${item} \${out} && printf '%s\\0' \${name} >> "$RELI_CTL/names"
  all:
    cmd: cat in/* > all.txt
    deps: [${deps}]
    outs: [all.txt]
`,
    });
    const before = new Set(Object.keys(tree(repo.dir, (r) => r === '.git')));
    const r = dvcl(repo.dir, ['repro', '-j', '3'], { env });
    expect(r.code, r.stderr).toBe(0);
    const names = fs.readFileSync(path.join(ctl, 'names'), 'utf8').split('\0').filter(Boolean);
    expect(names.sort()).toEqual([...NASTY].sort());
    for (const n of NASTY) expect(repo.read(`out/${n}.out`)).toBe(`content of ${n}\n`);

    // Nothing but the outs, the lock, the manifest and dvcl's own folder appeared, here or nearby.
    const created = Object.keys(tree(repo.dir, (rel) => rel === '.git' || rel === '.dvcl')).filter((f) => !before.has(f));
    expect(created.sort()).toEqual(['.manifest.json', 'all.txt', ...NASTY.map((n) => `out/${n}.out`), 'pipeline.lock'].sort());
    for (const dir of [path.dirname(repo.dir), process.cwd(), ctl]) {
      expect(fs.readdirSync(dir).filter((f) => f.includes('INJECTED')), dir).toEqual([]);
    }

    // Recorded exactly, in files that still parse, and read back as up to date.
    const lock = parseYaml(repo.read('pipeline.lock'));
    expect(lock.stages.all.deps.map((d: { path: string }) => d.path).sort()).toEqual(NASTY.map((n) => `in/${n}`).sort());
    expect(Object.keys(JSON.parse(repo.read('.manifest.json')).stages.each.items).sort()).toEqual(NASTY.map((n) => `in/${n}`).sort());
    expect(dvcl(repo.dir, ['status', '--check']).code).toBe(0);
    for (const args of [['dag', '--json'], ['dag', '--dot'], ['dag', '--mermaid'], ['status', '--json']]) {
      const out = dvcl(repo.dir, args);
      expect(out.code, `${args.join(' ')}: ${out.stderr}`).toBe(0);
      if (args.includes('--json')) json(out);
    }

    // A change to one of them is reported under its exact name.
    fs.appendFileSync(path.join(repo.dir, 'in/new\nline.txt'), 'more\n');
    const st = json(dvcl(repo.dir, ['status', '--json']));
    const all = st.stages.find((s: { name: string }) => s.name === 'all');
    expect(all.reasons).toContainEqual(expect.objectContaining({ code: 'dep_changed', path: 'in/new\nline.txt' }));
    fs.rmSync(path.join(ctl, 'names'));
    expect(dvcl(repo.dir, ['repro'], { env }).code).toBe(0);
    expect(fs.readFileSync(path.join(ctl, 'names'), 'utf8')).toBe('new\nline.txt\0');
  });

  it('issue 11: names that break out of $( ), backquotes and nested shells run nothing, in every way of writing cmd', async () => {
    const names = ['x";touch PWNED1;".txt', 'a;touch PWNED2;.txt', '$(touch PWNED3).txt', "x';touch PWNED4;'.txt", '`touch PWNED5`.txt', 'plain.txt'];
    const files: Record<string, string> = {};
    for (const n of names) files[`in/${n}`] = `content of ${n}\n`;
    // One stage per way of writing the command; each copies the item into its output.
    const ways = [
      'echo "$(cat "${item}")" > "${out}"',
      'echo "$(cat ${item})" > ${out}',
      'echo "`cat ${item}`" > ${out}',
      'sh -c "cat ${item} > ${out}"',
      "sh -c 'cat ${item} > ${out}'",
      'bash -c "cat \\"${item}\\" > \\"${out}\\""',
      'eval "cat ${item} > ${out}"',
      '[ -n "$(printf %s "${name}")" ] && cat <<EOF > ${out}\n$(cat "${item}")\nEOF',
    ];
    const rc = `version: 1\nstages:\n${ways.map((w, i) => `  w${i}:\n    foreach: in/*\n    out: out${i}/\${name}\n    cmd: ${JSON.stringify(w)}\n`).join('')}`;
    const { repo, env } = await project({ ...files, '.pipelinerc': rc });
    const r = dvcl(repo.dir, ['repro', '-j', '2'], { env });
    const pwned = (dir: string) => fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => path.basename(f).startsWith('PWNED'));
    expect(pwned(repo.dir)).toEqual([]);
    // Beside the repository (the temp folder, where other tests' folders come and go): one level.
    expect(fs.readdirSync(path.dirname(repo.dir)).filter((f) => f.startsWith('PWNED'))).toEqual([]);
    expect(r.code, r.stderr).toBe(0);
    for (let i = 0; i < ways.length; i++) {
      for (const n of names) expect(repo.read(`out${i}/${n}`), `${ways[i]} with ${n}`).toBe(`content of ${n}\n`);
    }
  });

  it('a template where no quoting is safe is refused before anything runs, at its line', async () => {
    const { repo, env } = await project({
      'in/a.txt': 'a\n',
      '.pipelinerc': `version: 1\nstages:\n  s:\n    foreach: in/*\n    out: o/\${name}\n    cmd:\n      - cp \${item} \${out}\n      - awk '{print "\${item}"}' \${item} >> \${out}\n`,
    });
    const r = dvcl(repo.dir, ['repro'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Error: \.pipelinerc:8:\d+: stages\.s\.cmd\[1\]: \$\{item\} inside single quotes/m);
    expect(r.stderr).toMatch(/DVCL_ITEM/);
    expect(fs.existsSync(path.join(repo.dir, 'o'))).toBe(false);
  });

  it('an item at the top of the project whose name starts with - reaches the command as ./-n.txt', async () => {
    const { repo, env } = await project({
      '-n.txt': 'one\ntwo\n',
      '.pipelinerc': 'version: 1\nstages:\n  s:\n    foreach: "*.txt"\n    out: o/${name}\n    cmd: cat ${item} > ${out} && printf "%s\\n" "$DVCL_ITEM" >> ${out}\n',
    });
    const r = dvcl(repo.dir, ['repro'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(repo.read('o/-n.txt')).toBe('one\ntwo\n./-n.txt\n');
    expect(Object.keys(JSON.parse(repo.read('.manifest.json')).stages.s.items)).toEqual(['-n.txt']);
  });

  it('stage, item and parameter names that JavaScript objects already have', async () => {
    const { repo, env } = await project({
      '.pipelinerc': `version: 1
stages:
  __proto__:
    cmd: echo p > p.txt
    outs: [p.txt]
  constructor:
    cmd: cat p.txt > c.txt
    deps: [p.txt]
    outs: [c.txt]
    params: [constructor.x, {__proto__: [toString]}]
  toString:
    foreach: in/*
    out: o/\${name}
    cmd: cp \${item} \${out}
`,
      'params.yaml': 'constructor: {x: 1}\nhasOwnProperty: 2\n',
      ['__proto__']: 'toString: 3\n', // computed: a plain `__proto__:` would set the prototype, not a key
      'in/constructor': 'a\n',
      'in/__proto__': 'b\n',
      'in/valueOf': 'c\n',
    });
    const r = dvcl(repo.dir, ['repro'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(Object.keys(parseYaml(repo.read('pipeline.lock')).stages).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    expect(Object.keys(JSON.parse(repo.read('.manifest.json')).stages.toString.items).sort()).toEqual(['in/__proto__', 'in/constructor', 'in/valueOf']);
    expect(dvcl(repo.dir, ['status', '--check']).code).toBe(0);

    repo.write('params.yaml', 'constructor: {x: 2}\nhasOwnProperty: 2\n');
    const st = json(dvcl(repo.dir, ['status', '--json']));
    expect(st.stages.find((s: { name: string }) => s.name === 'constructor').reasons)
      .toEqual([{ code: 'param_changed', file: 'params.yaml', key: 'constructor.x', old: 1, new: 2 }]);
    // A key an object inherits is not a parameter the file sets.
    repo.write('.pipelinerc', repo.read('.pipelinerc').replace('constructor.x', 'constructor.x, toString'));
    const missing = dvcl(repo.dir, ['status']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^Error: \.pipelinerc:\d+:\d+: stages\.constructor\.params\[1\]: parameter toString is not in params\.yaml/m);
  });
});

describe('paths that leave the project', () => {
  const stage = (body: string) => `version: 1\nstages:\n  s:\n${body}`;
  const CASES: Record<string, string> = {
    'a dep through ..': stage('    cmd: x\n    deps: [../secret.txt]\n'),
    'a dep climbing out from inside': stage('    cmd: x\n    deps: [data/../../secret.txt]\n'),
    'an absolute dep': stage('    cmd: x\n    deps: [/etc/passwd]\n'),
    'an absolute out': stage('    cmd: x\n    outs: [/tmp/dvcl-out.txt]\n'),
    'an out through ..': stage('    cmd: x\n    outs: [../out.txt]\n'),
    'wdir ..': stage('    cmd: x\n    wdir: ..\n'),
    'foreach through ..': stage('    cmd: x\n    foreach: ../*.txt\n    out: o/${stem}\n'),
    'an absolute foreach': stage('    cmd: x\n    foreach: [/tmp/*.txt]\n    out: o/${stem}\n'),
    'an item out template through ..': stage('    cmd: x\n    foreach: in/*.txt\n    out: ../o/${stem}\n'),
    'an item out template climbing past its variable': stage('    cmd: x\n    foreach: in/*.txt\n    out: o/${stem}/../../../x\n'),
    'a params file through ..': stage('    cmd: x\n    params: [{../params.yaml: [a]}]\n'),
    'the default params file through ..': 'version: 1\nparams: ../params.yaml\nstages:\n  s:\n    cmd: x\n',
    'a Windows drive path': stage('    cmd: x\n    deps: ["C:\\\\Windows\\\\win.ini"]\n'),
  };

  it('are configuration errors (exit 2) at their line and column', () => {
    const dir = scratch('dvcl-reli-paths-');
    cleanups.push(dir.cleanup);
    for (const [name, rc] of Object.entries(CASES)) {
      fs.writeFileSync(path.join(dir.dir, '.pipelinerc'), rc);
      let err: { name?: string; exit?: number; message?: string } | undefined;
      try {
        loadConfig({ cwd: dir.dir, root: dir.dir });
      } catch (e) {
        err = e as typeof err;
      }
      expect(err?.name, name).toBe('DvclError');
      expect(err?.exit, name).toBe(2);
      expect(err?.message, name).toMatch(/^\.pipelinerc:\d+:\d+: stages\.s\.|^\.pipelinerc:\d+:\d+: params: /);
      expect(err?.message, name).toMatch(/absolute|climbs out/);
    }
  });

  it('through the CLI: exit 2 and one line, nothing run', async () => {
    const { repo, ctl, env } = await project({ '.pipelinerc': stage(`    cmd: touch "$RELI_CTL/ran"\n    outs: [../escaped.txt]\n`) });
    const r = dvcl(repo.dir, ['repro'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toMatch(/^Error: \.pipelinerc:5:12: stages\.s\.outs\[0\]: "\.\.\/escaped\.txt" climbs out of the project root$/);
    expect(r.stderr).not.toMatch(STACK);
    expect(fs.existsSync(path.join(ctl, 'ran'))).toBe(false);
  });

  it('an item whose name makes its output climb out (`${stem}` of `...txt` is `..`) is refused before anything runs', async () => {
    const { repo, ctl, env } = await project({
      '.pipelinerc': `version: 1
stages:
  copy:
    foreach: [in/a.txt, in/...txt]
    out: out/\${stem}/\${stem}/\${stem}/x.out
    cmd: cp \${item} \${out} && echo \${item} >> "$RELI_CTL/ran"
`,
      'in/a.txt': 'a\n',
      'in/...txt': 'dots\n',
    });
    for (const args of [['status'], ['repro']]) {
      const r = dvcl(repo.dir, args, { env });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^Error: stage copy: the output of item in\/\.\.\.txt would be \.\.\/\.\.\/x\.out, outside the project/m);
    }
    expect(lines(path.join(ctl, 'ran'))).toEqual([]);
    expect(fs.existsSync(path.join(path.dirname(repo.dir), 'x.out'))).toBe(false);
  });
});

describe('links that lead out of the project', () => {
  async function withOutside(rc: string, files: Record<string, string> = {}) {
    const outside = scratch('dvcl-reli-outside-');
    cleanups.push(outside.cleanup);
    fs.writeFileSync(path.join(outside.dir, 'o.txt'), 'SENTINEL o\n');
    fs.writeFileSync(path.join(outside.dir, 'a.out'), 'SENTINEL a\n');
    fs.mkdirSync(path.join(outside.dir, 'data'));
    fs.writeFileSync(path.join(outside.dir, 'data', 'keep.txt'), 'SENTINEL data\n');
    const p = await project({ '.pipelinerc': rc, ...files });
    const before = tree(outside.dir);
    return { ...p, outside: outside.dir, unchanged: () => expect(tree(outside.dir), 'outside the project').toEqual(before) };
  }

  it('an out whose folder is a link out of the project: refused, the file outside survives', async () => {
    const p = await withOutside(`version: 1
stages:
  a:
    cmd: echo new > link/o.txt
    outs: [link/o.txt]
  b:
    cmd: mkdir -p deep/link2/sub && echo new > deep/link2/sub/o.txt
    outs: [deep/link2/sub/o.txt]
`);
    fs.symlinkSync(p.outside, path.join(p.repo.dir, 'link'));
    fs.mkdirSync(path.join(p.repo.dir, 'deep'));
    fs.symlinkSync(p.outside, path.join(p.repo.dir, 'deep', 'link2'));
    const r = dvcl(p.repo.dir, ['repro', '-k'], { env: p.env });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/a failed: refusing to write link\/o\.txt: its folder resolves outside the project/);
    // Not yet existing below the link: refused too, rather than created outside through it.
    expect(r.stderr).toMatch(/b failed: refusing to write deep\/link2\/sub\/o\.txt: its folder resolves outside the project/);
    p.unchanged();
    expect(p.repo.exists('pipeline.lock')).toBe(false); // neither stage completed
  });

  it('a persist out under a link out of the project: refused too (no folder is created through it)', async () => {
    const p = await withOutside(`version: 1
stages:
  a:
    cmd: echo kept
    outs: [link/new/o.txt]
    persist: true
`);
    fs.symlinkSync(p.outside, path.join(p.repo.dir, 'link'));
    const r = dvcl(p.repo.dir, ['repro'], { env: p.env });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/a failed: refusing to write link\/new\/o\.txt: its folder resolves outside the project/);
    p.unchanged();
  });

  it('an out that is itself a link out of the project: the link is replaced, never followed', async () => {
    const p = await withOutside(`version: 1
stages:
  dir:
    cmd: mkdir data && echo x > data/made.txt
    outs: [data]
  file:
    cmd: echo mine > res.txt
    outs: [res.txt]
`);
    fs.symlinkSync(path.join(p.outside, 'data'), path.join(p.repo.dir, 'data'));
    fs.symlinkSync(path.join(p.outside, 'o.txt'), path.join(p.repo.dir, 'res.txt'));
    const r = dvcl(p.repo.dir, ['repro'], { env: p.env });
    expect(r.code, r.stderr).toBe(0);
    p.unchanged();
    expect(fs.lstatSync(path.join(p.repo.dir, 'data')).isDirectory()).toBe(true);
    expect(p.repo.read('data/made.txt')).toBe('x\n');
    expect(fs.lstatSync(path.join(p.repo.dir, 'res.txt')).isFile()).toBe(true);
    expect(p.repo.read('res.txt')).toBe('mine\n');
  });

  it('per-item outputs under a link out of the project: every item is refused, nothing outside changes', async () => {
    const p = await withOutside(`version: 1
stages:
  copy:
    foreach: in/*.txt
    out: link/\${stem}.out
    cmd: cp \${item} \${out}
`, { 'in/a.txt': 'a\n', 'in/b.txt': 'b\n' });
    fs.symlinkSync(p.outside, path.join(p.repo.dir, 'link'));
    const r = dvcl(p.repo.dir, ['repro'], { env: p.env });
    expect(r.code, r.stderr).toBe(1);
    p.unchanged();
    const items = JSON.parse(p.repo.read('.manifest.json')).stages.copy.items;
    for (const i of ['in/a.txt', 'in/b.txt']) {
      expect(items[i].status).toBe('failed');
      expect(items[i].reason).toMatch(/refusing to write link\/\w\.out: its folder resolves outside the project/);
    }
  });

  it('a project reached through a link is not outside itself: its outs are replaced as usual', async () => {
    const p = await withOutside(`version: 1
stages:
  a:
    cmd: echo new > out/o.txt
    outs: [out/o.txt]
`, { 'out/o.txt': 'old\n' });
    const via = path.join(p.outside, 'via-link');
    fs.symlinkSync(p.repo.dir, via);
    const r = dvcl(via, ['repro'], { env: p.env });
    expect(r.code, r.stderr).toBe(0);
    expect(p.repo.read('out/o.txt')).toBe('new\n');
  });
});

describe('messages stay one visible line, whatever a path holds', () => {
  /** Invisible or line-breaking characters other than the newline that ends each line. */
  const INVISIBLE = /[\u0000-\u0009\u000b-\u001f\u007f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;
  const stage = (body: string) => `version: 1\nstages:\n  s:\n${body}`;
  /** The error and its hints: nothing else on stderr, no line broken by what a name holds. */
  function oneError(stderr: string): string {
    const [first, ...rest] = stderr.split('\n').filter(Boolean);
    expect(first, stderr).toMatch(/^Error: /);
    expect(rest.every((l) => l.startsWith('  hint: ')), `only hints follow the message:\n${stderr}`).toBe(true);
    expect(stderr).not.toMatch(INVISIBLE);
    return first;
  }

  it('a dep that nothing produces, its name holding a newline and a terminal escape', async () => {
    const { repo, ctl, env } = await project({ '.pipelinerc': stage('    cmd: touch "$RELI_CTL/ran"\n    deps: ["in/new\\nline\\u001b[2J.txt"]\n') });
    for (const args of [['repro'], ['repro', '--json']]) {
      const r = dvcl(repo.dir, args, { env });
      expect(r.code, r.stderr).toBe(2);
      expect(oneError(r.stderr)).toMatch(/in\/new\\nline\\u001b\[2J\.txt \(stage s\)/);
    }
    expect(fs.existsSync(path.join(ctl, 'ran'))).toBe(false);
  });

  it('an out the command did not produce, its name holding a newline', async () => {
    const { repo, env } = await project({ '.pipelinerc': stage('    cmd: "true"\n    outs: ["out/a\\nb.txt"]\n') });
    const r = dvcl(repo.dir, ['repro'], { env });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('s failed: declared out out/a\\nb.txt was not produced by the command\n');
    expect(r.stderr).not.toMatch(INVISIBLE);
  });

  it('status and repro name a changed dep holding a newline on one line', async () => {
    const { repo, env } = await project({ '.pipelinerc': stage('    cmd: cat in/* > o.txt\n    deps: ["in/new\\nline.txt"]\n    outs: [o.txt]\n'), 'in/new\nline.txt': 'a\n' });
    expect(dvcl(repo.dir, ['repro'], { env }).code).toBe(0);
    repo.write('in/new\nline.txt', 'b\n');
    const st = dvcl(repo.dir, ['status'], { env });
    expect(st.stdout).toMatch(/^ {4}dep in\/new\\nline\.txt changed \(.*\)$/m);
    const r = dvcl(repo.dir, ['repro'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^Running s: dep in\/new\\nline\.txt changed \(.*\)$/m);
  });

  it('a params file that does not exist, its name holding a newline: the message and the hint', async () => {
    const { repo, env } = await project({ '.pipelinerc': stage('    cmd: "true"\n    params: [{"p\\n.yaml": [x]}]\n') });
    const r = dvcl(repo.dir, ['status'], { env });
    expect(r.code, r.stderr).toBe(2);
    expect(oneError(r.stderr)).toMatch(/params file p\\n\.yaml does not exist/);
    expect(r.stderr).toMatch(/hint: create p\\n\.yaml or name another file/);
  });

  it('a damaged params file whose name holds a newline', async () => {
    const { repo, env } = await project({
      '.pipelinerc': stage('    cmd: "true"\n    params: [{"p\\n.yaml": [x]}]\n'),
      'p\n.yaml': 'x: [1\n',
    });
    const r = dvcl(repo.dir, ['status'], { env });
    expect(r.code, r.stderr).toBe(2);
    expect(oneError(r.stderr)).toMatch(/^Error: p\\n\.yaml:\d+:\d+: invalid YAML/);
  });
});

describe('file names that are not valid UTF-8', () => {
  // Made by their bytes: `in/\xff\xfe.txt`, `in/\xff.txt` (which reads as `in/\ufffd.txt`, the name
  // of a real file too) and a folder `in/\xfe/`.
  function writeRaw(root: string, rel: string, content: string): void {
    fs.writeFileSync(Buffer.concat([Buffer.from(`${root}/`), Buffer.from(rel, 'latin1')]), content);
  }
  async function withRawNames(rc: string) {
    const p = await project({ '.pipelinerc': rc, 'in/a.txt': 'a\n', 'in/\ufffd.txt': 'a real U+FFFD\n' });
    writeRaw(p.repo.dir, 'in/\xff\xfe.txt', 'ff fe\n');
    writeRaw(p.repo.dir, 'in/\xff.txt', 'ff\n');
    fs.mkdirSync(Buffer.from(`${p.repo.dir}/in/\xfe`, 'latin1'));
    writeRaw(p.repo.dir, 'in/\xfe/b.txt', 'b\n');
    return p;
  }
  const COPY = 'warning: stage copy: 2 inputs not processed, the names are not valid UTF-8 (rename them): in/\\xff.txt, in/\\xff\\xfe.txt';
  const DEEP = 'warning: stage deep: 3 inputs not processed, the names are not valid UTF-8 (rename them): in/\\xfe/, in/\\xff.txt, in/\\xff\\xfe.txt';

  it('as items: status (stderr and --json) and repro name them, bytes escaped, on every run; a name holding U+FFFD itself is processed', async () => {
    const { repo, ctl, env } = await withRawNames(`version: 1
stages:
  copy:
    foreach: in/*.txt
    out: out/\${name}.out
    cmd: cp \${item} \${out} && printf '%s\\0' \${item} >> "$RELI_CTL/ran"
  deep:
    foreach: in/**/*.txt
    out: deep/\${name}.out
    cmd: cp \${item} \${out}
`);
    const st = dvcl(repo.dir, ['status'], { env });
    expect(st.code, st.stderr).toBe(0);
    expect(st.stderr.split('\n').filter(Boolean)).toEqual([COPY, DEEP]);
    const js = dvcl(repo.dir, ['status', '--json'], { env });
    const copy = json(js).stages.find((s: { name: string }) => s.name === 'copy');
    expect(copy.skipped).toEqual([{ path: 'in/\\xff.txt', reason: 'name_not_utf8' }, { path: 'in/\\xff\\xfe.txt', reason: 'name_not_utf8' }]);
    expect(copy.items.total).toBe(2);

    const r = dvcl(repo.dir, ['repro'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${COPY}\n`);
    expect(r.stderr).toContain(`${DEEP}\n`);
    expect(fs.readFileSync(path.join(ctl, 'ran'), 'utf8').split('\0').filter(Boolean).sort()).toEqual(['in/a.txt', 'in/\ufffd.txt']);
    expect(Object.keys(JSON.parse(repo.read('.manifest.json')).stages.copy.items).sort()).toEqual(['in/a.txt', 'in/\ufffd.txt']);

    // Up to date, and still not silent about what it leaves aside.
    const again = dvcl(repo.dir, ['status', '--check'], { env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr.split('\n').filter(Boolean)).toEqual([COPY, DEEP]);
    expect(dvcl(repo.dir, ['repro'], { env }).stderr).toContain(COPY);
  });

  it('in a directory dep: each file counts, by its bytes, and a change to one makes the stage stale', async () => {
    const { repo, env } = await withRawNames(`version: 1
stages:
  sum:
    cmd: cat in/*.txt > sum.txt
    deps: [in]
    outs: [sum.txt]
`);
    const r = dvcl(repo.dir, ['repro'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/internal error|warning/);
    expect(parseYaml(repo.read('pipeline.lock')).stages.sum.deps[0]).toMatchObject({ path: 'in', nfiles: 5 });
    expect(dvcl(repo.dir, ['status', '--check'], { env }).code).toBe(0);
    for (const rel of ['in/\xff\xfe.txt', 'in/\xfe/b.txt', 'in/\xff.txt']) {
      writeRaw(repo.dir, rel, 'changed\n');
      const st = json(dvcl(repo.dir, ['status', '--json'], { env }));
      expect(st.stages[0].reasons, rel).toEqual([expect.objectContaining({ code: 'dep_changed', path: 'in' })]);
      expect(dvcl(repo.dir, ['repro'], { env }).code).toBe(0);
      expect(dvcl(repo.dir, ['status', '--check'], { env }).code, rel).toBe(0);
    }
  });
});

// Issue 11, point 3: an output folder checked once per stage run could become a link out of the
// project mid-run (the command itself, another stage, another process), and later items' old
// outputs were then removed through it. Sentinel files outside, named like those outputs, prove
// that every removal checks the folder it acts in.
describe('output folders replaced by a link during the run', () => {
  const ITEMS = ['a', 'b', 'c', 'd', 'e', 'f'];

  async function swapped(rc: (cmd: string) => string, files: Record<string, string> = {}) {
    const outside = scratch('dvcl-reli-swap-');
    cleanups.push(outside.cleanup);
    const p = await project({ '.pipelinerc': rc(''), ...files });
    const env = { ...p.env, RELI_OUTSIDE: outside.dir };
    return { ...p, env, outside: outside.dir };
  }

  const modes: { name: string; env: Record<string, string> }[] = [{ name: 'item shells', env: {} }, { name: 'one process per item', env: { DVCL_ITEM_SHELL: '0' } }];
  for (const mode of modes) {
    it(`per-item outputs (${mode.name}): the first item's command swaps the folder; nothing outside is deleted, later items fail with the reason`, async () => {
      const inputs = Object.fromEntries(ITEMS.map((i) => [`in/${i}.txt`, `${i}\n`]));
      // The swap comes after the first item's own output; a command never writes through the link
      // (`[ -L out ]`), so what could touch the files outside is dvcl alone.
      const rc = (extra: string) => `version: 1
stages:
  copy:
    foreach: in/*.txt
    out: out/\${stem}.out
    cmd: '[ -L out ] && exit 7; cp \${item} \${out}${extra}'
`;
      const p = await swapped(rc, inputs);
      const first = dvcl(p.repo.dir, ['repro', '-j', '1'], { env: { ...p.env, ...mode.env } });
      expect(first.code, first.stderr).toBe(0);
      for (const i of ITEMS.slice(1)) fs.writeFileSync(path.join(p.outside, `${i}.out`), `SENTINEL ${i}\n`);
      const before = tree(p.outside);

      p.repo.write('.pipelinerc', rc(' && if [ ${stem} = a ]; then rm -rf out && ln -s "$RELI_OUTSIDE" out; fi'));
      const r = dvcl(p.repo.dir, ['repro', '-j', '1'], { env: { ...p.env, ...mode.env } });
      expect(r.code, r.stderr).toBe(1);
      expect(tree(p.outside), 'outside the project').toEqual(before);
      expect(fs.lstatSync(path.join(p.repo.dir, 'out')).isSymbolicLink()).toBe(true);

      const items = JSON.parse(p.repo.read('.manifest.json')).stages.copy.items;
      const refused = (i: string) => new RegExp(`^refusing to (write|record) out/${i}\\.out: its folder resolves outside the project \\(${p.outside.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)$`);
      // The first item's output went with the folder it was in: its record would name a file outside.
      expect(items['in/a.txt']).toMatchObject({ status: 'failed', reason: expect.stringMatching(refused('a')) });
      for (const i of ITEMS.slice(1)) {
        const rec = items[`in/${i}.txt`];
        expect(rec.status, i).toBe('failed');
        // Sent to the shell while the first item ran (item shells keep one queued): its own command refused.
        if (mode.name === 'item shells' && i === 'b' && /^exit code 7/.test(rec.reason)) continue;
        expect(rec.reason, i).toMatch(refused(i));
      }
      expect(r.stderr).toMatch(new RegExp(`in/f\\.txt failed: ${refused('f').source.slice(1, -1)}`));
    });
  }

  it('stage outs: a stage swaps a folder for a link; a later stage refuses to remove its old out through it', async () => {
    const p = await swapped(() => `version: 1
stages:
  swap:
    cmd: rm -rf shared && ln -s "$RELI_OUTSIDE" shared && echo done > res/swap.out
    outs: [res/swap.out]
  later:
    cmd: '[ -L shared ] && exit 7; echo new > shared/b.out'
    deps: [res/swap.out]
    outs: [shared/b.out]
`, { 'shared/b.out': 'old b\n' });
    fs.writeFileSync(path.join(p.outside, 'b.out'), 'SENTINEL b\n');
    const r = dvcl(p.repo.dir, ['repro'], { env: p.env });
    expect(r.code, r.stderr).toBe(1);
    expect(tree(p.outside)).toEqual({ 'b.out': 'SENTINEL b\n' });
    expect(r.stderr).toMatch(/later failed: refusing to write shared\/b\.out: its folder resolves outside the project/);
  });

  it('a folder out holding a link out of the project: removed with the link, nothing followed', async () => {
    const p = await swapped(() => `version: 1
stages:
  dir:
    cmd: mkdir -p data/sub && echo new > data/sub/x.txt
    outs: [data]
`, { 'data/sub/old.txt': 'old\n' });
    fs.writeFileSync(path.join(p.outside, 'keep.txt'), 'SENTINEL\n');
    fs.symlinkSync(p.outside, path.join(p.repo.dir, 'data/sub/ext'));
    const r = dvcl(p.repo.dir, ['repro'], { env: p.env });
    expect(r.code, r.stderr).toBe(0);
    expect(tree(p.outside)).toEqual({ 'keep.txt': 'SENTINEL\n' });
    expect(tree(path.join(p.repo.dir, 'data'))).toEqual({ 'sub/x.txt': 'new\n' });
  });

  it('stage outs: what a command writes through a link it made in place of its out\'s folder is not recorded', async () => {
    const p = await swapped(() => `version: 1
stages:
  self:
    cmd: echo mine > res/new.out && rm -rf res && ln -s "$RELI_OUTSIDE" res && echo through > res/new.out
    outs: [res/new.out]
`);
    const r = dvcl(p.repo.dir, ['repro'], { env: p.env });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/self failed: refusing to record res\/new\.out: its folder resolves outside the project/);
    expect(p.repo.exists('pipeline.lock')).toBe(false);
    expect(JSON.parse(p.repo.read('.manifest.json')).stages.self).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^refusing to record res\/new\.out/) });
  });
});

// Issue 11, point 4: outs are removed before their stage runs; one that is git's or dvcl's own
// state (or leads there through a link, or expands there for one item) must never be.
describe("outs where git or dvcl keep their state", () => {
  it('`outs: [.git]`: exit 2 at its line, nothing run, the repository intact', async () => {
    const { repo, ctl, env } = await project({
      '.pipelinerc': `version: 1\nstages:\n  wipe:\n    cmd: touch "$RELI_CTL/ran" && mkdir -p .git\n    outs: [.git]\n`,
    });
    const head = repo.git('rev-parse', 'HEAD');
    const before = tree(path.join(repo.dir, '.git'));
    const r = dvcl(repo.dir, ['repro'], { env });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(`Error: .pipelinerc:5:12: stages.wipe.outs[0]: ".git" is git's repository`);
    expect(fs.existsSync(path.join(ctl, 'ran'))).toBe(false);
    expect(tree(path.join(repo.dir, '.git'))).toEqual(before);
    expect(repo.git('rev-parse', 'HEAD')).toBe(head);
    expect(repo.git('status', '--porcelain')).toBe('');
  });

  it('an out whose folder is a link to .git inside the project: refused, .git untouched', async () => {
    const { repo, env } = await project({
      '.pipelinerc': `version: 1\nstages:\n  a:\n    cmd: echo x > gitlink/config\n    outs: [gitlink/config]\n  b:\n    foreach: in/*.txt\n    out: gitlink2/\${stem}\n    cmd: cp \${item} \${out}\n`,
      'in/HEAD.txt': 'not a ref\n',
    });
    fs.symlinkSync('.git', path.join(repo.dir, 'gitlink'));
    fs.symlinkSync('.git', path.join(repo.dir, 'gitlink2'));
    const before = tree(path.join(repo.dir, '.git'));
    const r = dvcl(repo.dir, ['repro', '-k'], { env });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/a failed: refusing to write gitlink\/config: it resolves to \.git\/config, which lies in \.git, git's repository/);
    expect(JSON.parse(repo.read('.manifest.json')).stages.b.items['in/HEAD.txt'].reason)
      .toBe("refusing to write gitlink2/HEAD: it resolves to .git/HEAD, which lies in .git, git's repository");
    expect(tree(path.join(repo.dir, '.git'))).toEqual(before);
    expect(repo.git('status', '--porcelain')).toMatch(/gitlink/);
  });

  it("an item whose output expands to dvcl's lock file: exit 2 before anything runs, the lock intact", async () => {
    const { repo, ctl, env } = await project({
      '.pipelinerc': `version: 1\nstages:\n  each:\n    foreach: in/*.txt\n    out: \${stem}\n    cmd: cp \${item} \${out} && echo \${item} >> "$RELI_CTL/ran"\n`,
      'in/a.txt': 'a\n',
    });
    expect(dvcl(repo.dir, ['repro'], { env }).code).toBe(0);
    const lock = repo.read('pipeline.lock');
    repo.write('in/pipeline.lock.txt', 'overwritten\n');
    fs.rmSync(path.join(ctl, 'ran'));
    for (const args of [['status'], ['repro']]) {
      const r = dvcl(repo.dir, args, { env });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^Error: stage each: the output of item in\/pipeline\.lock\.txt would be pipeline\.lock, which is dvcl's lock file$/m);
    }
    expect(lines(path.join(ctl, 'ran'))).toEqual([]);
    expect(repo.read('pipeline.lock')).toBe(lock);
  });
});
