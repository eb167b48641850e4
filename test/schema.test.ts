import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadConfig, SETTING_KEYS, STAGE_KEYS, TOP_KEYS } from '../src/core/config/load.js';
import { REMOTE_OPTION_KEYS } from '../src/core/config/remote-settings.js';
import { STARTER_CONFIG } from '../src/core/services/init.js';
import { HASH_ALGORITHMS } from '../src/core/hashing/algorithms.js';

// schema/pipelinerc.schema.json is what editors validate `.pipelinerc` with; dvcl's loader is
// what runs. These tests hold the two to the same verdict, so an editor never flags a file dvcl
// runs, nor stays silent on a key or a shape dvcl refuses.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCHEMA = JSON.parse(fs.readFileSync(path.join(ROOT, 'schema/pipelinerc.schema.json'), 'utf8'));
// Strict, but for strictRequired: `dependencies.foreach` requires `out`, a property the stage defines one level up.
const validate = new Ajv({ strict: true, strictRequired: false, allowUnionTypes: true, allErrors: true }).compile(SCHEMA);

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

const PARAMS = { 'params.yaml': 'prepare:\n  split: 0.2\n  seed: 1\nparse:\n  strict: true\n', 'config/model.json': '{"model": {"depth": 3}}\n' };

/** The schema's errors, or null when it accepts the document. */
function schemaErrors(doc: unknown): ErrorObject[] | null {
  return validate(doc) ? null : [...(validate.errors ?? [])];
}

/** dvcl's own verdict on the same document as a `.pipelinerc`: null when it loads, else its message. */
function loaderError(text: string): string | null {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-schema-')));
  dirs.push(dir);
  for (const [rel, content] of Object.entries({ ...PARAMS, '.pipelinerc': text })) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  try {
    loadConfig({ cwd: dir, root: dir });
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Every key at every level, each value of a shape the loader accepts. */
function base(): Record<string, any> {
  return {
    version: 1,
    settings: {
      jobs: 2, hash: 'sha256', max_attempts: 3, shell: '/bin/sh', cache: true, run_cache: 'pull', remote: 's3://bucket/prefix',
      remote_options: { endpoint: 'https://minio.example:9000', region: 'us-east-1', path_style: true, jobs: 8 },
    },
    params: 'params.yaml',
    stages: {
      prepare: {
        desc: 'Split', cmd: 'node prepare.js', deps: ['data/raw', 'prepare.js'], params: ['prepare.split', { 'config/model.json': ['model.depth'] }],
        outs: ['data/prepared'], env: { SEED: 1, MODE: 'fast' }, wdir: '.', persist: false, frozen: false, always_changed: false,
      },
      parse: { foreach: 'data/prepared/*.txt', out: 'data/parsed/${stem}.json', cmd: ['node parse.js ${item} ${out}'], deps: 'parse.js' },
    },
  };
}

function edited(edit: (doc: Record<string, any>) => void): Record<string, any> {
  const doc = base();
  edit(doc);
  return doc;
}

const rejectedKey = (errors: ErrorObject[] | null): string[] =>
  (errors ?? []).filter((e) => e.keyword === 'additionalProperties').map((e) => `${e.instancePath}/${e.params.additionalProperty}`);

describe('the schema and the loader agree', () => {
  it('on a document with every key', () => {
    expect(loaderError(stringify(base()))).toBeNull();
    expect(schemaErrors(base())).toBeNull();
  });

  const unknownKeys: [level: string, edit: (d: Record<string, any>) => void, at: string, loader: RegExp][] = [
    ['top level', (d) => { d.stagess = {}; }, '/stagess', /: stagess: unknown key "stagess"/],
    ['settings', (d) => { d.settings.hahs = 'md5'; }, '/settings/hahs', /: settings\.hahs: unknown key "hahs"/],
    ['remote_options', (d) => { d.settings.remote_options.bucket = 'b'; }, '/settings/remote_options/bucket', /: settings\.remote_options\.bucket: unknown option/],
    ['a stage', (d) => { d.stages.prepare.cmdd = 'x'; }, '/stages/prepare/cmdd', /: stages\.prepare\.cmdd: unknown key "cmdd"/],
    ['a per-item stage', (d) => { d.stages.parse.outz = 'x'; }, '/stages/parse/outz', /: stages\.parse\.outz: unknown key "outz"/],
  ];
  it.each(unknownKeys)('an unknown key at the %s is refused by both', (_level, edit, at, loader) => {
    const doc = edited(edit);
    expect(rejectedKey(schemaErrors(doc))).toEqual([at]);
    expect(loaderError(stringify(doc))).toMatch(loader);
  });

  // [what, accepted, edit]: refused shapes both must refuse; unusual shapes both must accept (the schema is not stricter than dvcl).
  const shapes: [string, boolean, (d: Record<string, any>) => void][] = [
    ['version 2', false, (d) => { d.version = 2; }],
    ['version "1"', false, (d) => { d.version = '1'; }],
    ['jobs 0', false, (d) => { d.settings.jobs = 0; }],
    ['jobs "4"', false, (d) => { d.settings.jobs = '4'; }],
    ['max_attempts 1.5', false, (d) => { d.settings.max_attempts = 1.5; }],
    ['an unknown hash', false, (d) => { d.settings.hash = 'crc32'; }],
    ['run_cache push', false, (d) => { d.settings.run_cache = 'push'; }],
    ['run_cache false', true, (d) => { d.settings.run_cache = false; }],
    ['cache "yes"', false, (d) => { d.settings.cache = 'yes'; }],
    ['cache null', true, (d) => { d.settings.cache = null; }],
    ['shell as a list', false, (d) => { d.settings.shell = ['/bin/sh']; }],
    ['a gs:// remote', false, (d) => { d.settings.remote = 'gs://bucket/x'; }],
    ['an empty remote', false, (d) => { d.settings.remote = ''; }],
    ['an s3 remote with no bucket', false, (d) => { d.settings.remote = 's3:///x'; }],
    ['an s3 prefix with ..', false, (d) => { d.settings.remote = 's3://bucket/a/../b'; }],
    ['a folder remote', true, (d) => { d.settings.remote = '../store'; }],
    ['a file:// remote', true, (d) => { d.settings.remote = 'file:///srv/store'; }],
    ['an S3:// remote (schemes are case-insensitive)', true, (d) => { d.settings.remote = 'S3://bucket'; }],
    ['remote null', true, (d) => { d.settings.remote = null; }],
    ['an endpoint without http', false, (d) => { d.settings.remote_options.endpoint = 'minio:9000'; }],
    ['a blank region', false, (d) => { d.settings.remote_options.region = '  '; }],
    ['path_style "yes"', false, (d) => { d.settings.remote_options.path_style = 'yes'; }],
    ['remote_options.jobs 2000', false, (d) => { d.settings.remote_options.jobs = 2000; }],
    ['remote_options null', true, (d) => { d.settings.remote_options = null; }],
    ['settings as a list', false, (d) => { d.settings = ['jobs']; }],
    ['settings null', true, (d) => { d.settings = null; }],
    ['params file absolute', false, (d) => { d.params = '/etc/params.yaml'; }],
    ['stages null', true, (d) => { d.stages = null; }],
    ['a stage name with a space', false, (d) => { d.stages['two words'] = { cmd: 'x' }; }],
    ['a stage that is not a mapping', false, (d) => { d.stages.empty = null; }],
    ['a stage without cmd', false, (d) => { delete d.stages.prepare.cmd; }],
    ['an empty cmd list', false, (d) => { d.stages.prepare.cmd = []; }],
    ['a blank cmd', false, (d) => { d.stages.prepare.cmd = '  '; }],
    ['cmd as a number', false, (d) => { d.stages.prepare.cmd = 42; }],
    ['a multi-line cmd', true, (d) => { d.stages.prepare.cmd = 'node a.js\nnode b.js\n'; }],
    ['desc as a list', false, (d) => { d.stages.prepare.desc = ['x']; }],
    ['deps as a mapping', false, (d) => { d.stages.prepare.deps = { a: 1 }; }],
    ['deps listing a path twice', false, (d) => { d.stages.prepare.deps = ['a', 'a']; }],
    ['deps null', true, (d) => { d.stages.prepare.deps = null; }],
    ['an absolute dep', false, (d) => { d.stages.prepare.deps = ['/data/raw']; }],
    ['an out outside the root', false, (d) => { d.stages.prepare.outs = ['../x']; }],
    ['one out as a string', true, (d) => { d.stages.prepare.outs = 'data/prepared'; }],
    ['params as a string', false, (d) => { d.stages.prepare.params = 'prepare.split'; }],
    ['an empty param key', false, (d) => { d.stages.prepare.params = ['']; }],
    ['a whole params file', true, (d) => { d.stages.prepare.params = [{ 'params.yaml': null }]; }],
    ['param keys not in a list', false, (d) => { d.stages.prepare.params = [{ 'params.yaml': 'prepare.split' }]; }],
    ['an env name with a dash', false, (d) => { d.stages.prepare.env = { 'MY-VAR': 'x' }; }],
    ['an env value that is a list', false, (d) => { d.stages.prepare.env = { A: [1] }; }],
    ['env true', true, (d) => { d.stages.prepare.env = { A: true }; }],
    ['wdir null', false, (d) => { d.stages.prepare.wdir = null; }],
    ['persist "yes"', false, (d) => { d.stages.prepare.persist = 'yes'; }],
    ['frozen null', true, (d) => { d.stages.prepare.frozen = null; }],
    ['always_changed 1', false, (d) => { d.stages.prepare.always_changed = 1; }],
    ['foreach without out', false, (d) => { delete d.stages.parse.out; }],
    ['out without foreach', false, (d) => { delete d.stages.parse.foreach; }],
    ['foreach with outs', false, (d) => { d.stages.parse.outs = ['x']; }],
    ['an empty foreach list', false, (d) => { d.stages.parse.foreach = []; }],
    ['a list of foreach globs', true, (d) => { d.stages.parse.foreach = ['data/prepared/*.txt', 'data/extra/*.txt']; }],
    ['an out without a template', false, (d) => { d.stages.parse.out = 'data/parsed/all.json'; }],
    ['an out templated on ${dir}', true, (d) => { d.stages.parse.out = 'data/parsed/${dir}/${name}'; }],
  ];
  it.each(shapes)('%s (accepted: %s)', (_what, accepted, edit) => {
    const doc = edited(edit);
    const errors = schemaErrors(doc);
    const loader = loaderError(stringify(doc));
    expect(errors === null, `schema: ${JSON.stringify(errors)}`).toBe(accepted);
    expect(loader === null, `loader: ${loader}`).toBe(accepted);
  });
});

describe('the schema lists what the loader allows', () => {
  const sorted = (keys: readonly string[]) => [...keys].sort();
  const settings = SCHEMA.properties.settings;
  const stage = SCHEMA.definitions.stage;

  it('the same keys at every level', () => {
    expect(sorted(Object.keys(SCHEMA.properties))).toEqual(sorted(TOP_KEYS));
    expect(sorted(Object.keys(settings.properties))).toEqual(sorted(SETTING_KEYS));
    expect(sorted(Object.keys(settings.properties.remote_options.properties))).toEqual(sorted(REMOTE_OPTION_KEYS));
    expect(sorted(Object.keys(stage.properties))).toEqual(sorted(STAGE_KEYS));
  });

  it('no other key at any of those levels, and a description on every key', () => {
    for (const level of [SCHEMA, settings, settings.properties.remote_options, stage, stage.properties.env, SCHEMA.properties.stages]) {
      expect(level.additionalProperties).toBe(false);
    }
    for (const level of [SCHEMA, settings, settings.properties.remote_options, stage]) {
      for (const [key, prop] of Object.entries(level.properties as Record<string, { description?: string }>)) {
        expect(prop.description, key).toMatch(/\S/);
      }
    }
  });

  it('the defaults the loader gives', () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-schema-')));
    dirs.push(dir);
    fs.writeFileSync(path.join(dir, '.pipelinerc'), 'stages:\n  a:\n    cmd: x\n');
    const cfg = loadConfig({ cwd: dir, root: dir });
    const { jobs: _cpus, ...fixed } = cfg.settings;
    const shown = (props: Record<string, { default?: unknown }>, keys: string[]) => Object.fromEntries(keys.map((k) => [k, props[k].default]));
    expect(shown(settings.properties, Object.keys(fixed))).toEqual(fixed);
    expect(settings.properties.jobs.default).toBeUndefined(); // the number of CPUs
    expect(settings.properties.run_cache.default).toBe(cfg.settings.run_cache ?? true); // unset: restore from the local run cache
    expect(SCHEMA.properties.params.default).toBe(cfg.paramsFile);
    const [a] = cfg.stages;
    expect(shown(stage.properties, ['wdir', 'persist', 'frozen', 'always_changed'])).toEqual({ wdir: a.wdir, persist: a.persist, frozen: a.frozen, always_changed: a.always_changed });
  });

  it('the hash algorithms dvcl has', () => {
    expect(settings.properties.hash.enum).toEqual([...HASH_ALGORITHMS]);
  });
});

describe('shipped .pipelinerc files are valid', () => {
  const modeline = `# yaml-language-server: $schema=${SCHEMA.$id}`;

  it('.pipelinerc.example, which names the schema on its first line', () => {
    const text = fs.readFileSync(path.join(ROOT, '.pipelinerc.example'), 'utf8');
    expect(schemaErrors(parse(text))).toBeNull();
    expect(text.split('\n')[0]).toBe(modeline);
  });

  it('the starter file of `dvcl init`, as written and with its example stages uncommented', () => {
    expect(STARTER_CONFIG.split('\n')[0]).toBe(modeline);
    expect(schemaErrors(parse(STARTER_CONFIG))).toBeNull();
    expect(schemaErrors(parse(STARTER_CONFIG.replace(/^ {2}# /gm, '  ')))).toBeNull();
  });

  it('every .pipelinerc under examples/', () => {
    const found = fs.readdirSync(path.join(ROOT, 'examples'), { recursive: true, encoding: 'utf8' })
      .filter((f) => path.basename(f) === '.pipelinerc');
    expect(found.length).toBeGreaterThan(0);
    for (const f of found) {
      expect(schemaErrors(parse(fs.readFileSync(path.join(ROOT, 'examples', f), 'utf8'))), f).toBeNull();
    }
  });
});
