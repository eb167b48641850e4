import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { dvcl } from '../helpers/cli.js';
import { figure, rng, scratch, seedFromEnv, STACK, trialsFromEnv, type Rng } from './support.js';

// Issue 7, hostile input: seeded mutations of valid `.pipelinerc` files (and of the params file
// they read). Every case must end in a valid configuration or in a DvclError with exit 2 and one
// line `file:line:col: ...` (or `file: ...`) — never another exception, a hang or a stack trace.
// The cases run in a worker thread through the built loadConfig, so that a hang is caught and
// reported; a sample of them also through the CLI.

const SEED = seedFromEnv();
const CASES = Math.max(600, 150 * trialsFromEnv(4));
const CLI_CASES = 20;
const CASE_BUDGET_MS = 10_000; // per case, on a loaded machine: a valid load takes milliseconds
const here = path.dirname(fileURLToPath(import.meta.url));

const PARAMS = `prepare:
  split: 0.2
  seed: 20170428
train:
  lr: 0.01
  layers: [64, 32]
`;
const OTHER = `a:
  b: 1
  c: {d: "x"}
`;

const BASES = [
  `version: 1
settings:
  jobs: 2
  hash: sha256
  max_attempts: 3
  shell: /bin/sh
params: params.yaml
stages:
  prepare:
    desc: Split the raw data
    cmd:
      - node scripts/prepare.js
      - echo done
    deps: [data/raw, scripts/prepare.js]
    params: [prepare.split, prepare.seed, {other.yaml: [a.b, a.c.d]}]
    outs: [data/prepared]
    env: {SEED: "1", N: 2}
    wdir: .
  parse:
    foreach: [data/raw/*.html, data/extra/**/*.htm]
    out: data/parsed/\${dir}/\${stem}.json
    cmd: node scripts/parse.js \${item} \${out} \${name}
    deps: [scripts/parse.js]
  report:
    cmd: node scripts/report.js > reports/summary.md
    deps: [data/parsed, data/prepared]
    outs: [reports/summary.md]
    persist: false
    frozen: false
    always_changed: true
`,
  `version: 1
stages: {a: {cmd: "echo a > a.txt", outs: [a.txt]}, b: {cmd: [cat a.txt, "echo b > b.txt"], deps: [a.txt], outs: [b.txt], params: [train.lr]}, c: {foreach: "b*.txt", out: "c/\${name}", cmd: "cp \${item} \${out}"}}
`,
  `stages:
  only:
    cmd: make
`,
  `version: 1
settings: {jobs: 4}
stages:
  fetch:
    cmd: |
      set -e
      curl -o data.csv "$URL"
    env: &env
      URL: "https://example.org/data.csv"
      MODE: 'strict'
    outs: &outs [data.csv]
  clean:
    cmd: >
      python clean.py
      --in data.csv --out clean.csv
    env: *env
    deps: *outs
    outs: ["clean.csv", 'log/clean.log']
    params:
      - train.layers
      - {params.yaml: [prepare.seed]}
`,
];

const TOKENS = [':', ': ', '- ', '-', '[', ']', '{', '}', ',', '&a ', '*a', '*nope', '!!binary ', '!!str ', '!!map ', '!!seq ', '!!int ', '!!set ',
  '!custom ', '~', 'null', "'", '"', '#', '|', '>', '? ', '---\n', '...\n', '%YAML 1.1\n', '<<: *a', '@', '`', '\t', '\\', '${item}', '${nope}',
  '$(touch INJECTED)', '\u0000', '\ufeff', 'é', '€', '😀', '\u202e', '\r', '\r\n', '  ', '\n'];
const VALUES = ['1e400', '-1e400', '99999999999999999999999', '-1', '0', '0x1F', '0o17', '.inf', '-.inf', '.nan', 'true', 'false', 'yes', '[]', '{}', '[1, [2]]',
  '{a: {b: {c: 1}}}', '"a\\nb"', '"\\u0000"', '"tab\\there"', 'ü€😀', '""', "''", '~', '2001-12-14t21:59:43.10-05:00', '!!binary aGVsbG8=', '../x', '/etc/passwd',
  'C:\\x', '..', '.', '${item}', '${out}', 'a/${stem}', '${nope}', 'x'.repeat(5000), '[' + 'a, '.repeat(2000) + 'b]', '*a', '&a x', '!!set {a, b}', '!!omap [a: 1]'];
const KEYS = ['version', 'settings', 'params', 'stages', 'jobs', 'hash', 'max_attempts', 'shell', 'desc', 'cmd', 'deps', 'outs', 'env', 'wdir', 'persist',
  'frozen', 'always_changed', 'foreach', 'out', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '"a\\nb"', '"a: b"', '? [a]', '"" ', 'ünïcödé',
  'stage name', '1', 'null', 'true', '<<'];

function mutateOnce(text: string, r: Rng): string {
  const lines = text.split('\n');
  const i = r.int(0, Math.max(0, lines.length - 1));
  const line = lines[i] ?? '';
  const pos = r.int(0, line.length);
  const indent = ' '.repeat(r.pick([0, 2, 4, 6, 1, 3]));
  switch (r.int(0, 11)) {
    case 0: lines.splice(i, 1); break;
    case 1: lines.splice(i, 0, line); break;
    case 2: {
      const j = r.int(0, lines.length - 1);
      [lines[i], lines[j]] = [lines[j], line];
      break;
    }
    case 3: lines[i] = r.chance(0.5) ? line.replace(/^ {1,4}/, '') : r.pick([' ', '  ', '    ', '\t']) + line; break;
    case 4: lines[i] = line.slice(0, pos) + r.pick(TOKENS) + line.slice(pos); break;
    case 5: lines[i] = line.includes(':') ? line.replace(/:.*$/, `: ${r.pick(VALUES)}`) : `${indent}- ${r.pick(VALUES)}`; break;
    case 6: lines.splice(i, 0, `${indent}${r.pick(KEYS)}: ${r.pick(VALUES)}`); break;
    case 7: return text.slice(0, r.int(0, text.length));
    case 8: {
      const depth = r.pick([10, 200, 3000, 20000]);
      lines[i] = line.replace(/:.*$/, `: ${'['.repeat(depth)}${']'.repeat(r.chance(0.8) ? depth : 0)}`);
      break;
    }
    case 9: {
      const bomb = ['a: &a [x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b]',
        'd: &d [*c, *c, *c, *c, *c, *c, *c, *c]', 'e: [*d, *d, *d, *d, *d, *d, *d, *d]'];
      lines.splice(i, 0, ...bomb.map((l) => indent + l));
      break;
    }
    case 10: lines[i] = line.replace(/\S.*$/, (m) => m.split('').map((c) => (r.chance(0.1) ? r.pick(TOKENS) : c)).join('')); break;
    default: lines.splice(i, 0, `${indent}${r.pick(KEYS)}:`, `${indent}  ${r.pick(KEYS)}: ${r.pick(VALUES)}`); break;
  }
  return lines.join('\n');
}

interface FuzzCase { id: number; files: Record<string, string> }
interface Outcome { id: number; ok: boolean; stages?: number; name?: string; code?: string; exit?: number; message?: string; stack?: string }

function makeCase(id: number, r: Rng): FuzzCase {
  let rc = r.pick(BASES);
  let params = PARAMS;
  const n = r.int(1, 3);
  for (let k = 0; k < n; k++) {
    if (r.chance(0.12)) params = mutateOnce(params, r);
    else rc = mutateOnce(rc, r);
  }
  return { id, files: { '.pipelinerc': rc, 'params.yaml': params, 'other.yaml': OTHER } };
}

/** What a failure report shows: enough to replay the case by hand. */
function show(c: FuzzCase, o: Outcome | null, why: string): string {
  return `${why}\nRELIABILITY_SEED=${SEED}, case ${c.id}\n--- .pipelinerc ---\n${c.files['.pipelinerc']}\n--- params.yaml ---\n${c.files['params.yaml']}\n`
    + `--- outcome ---\n${o ? JSON.stringify(o, null, 2) : 'none'}`;
}

const FILES = /^(\.pipelinerc|\.pipelinerc\.local|params\.yaml|other\.yaml)(:\d+:\d+)?: ./;

/** The contract for one case's outcome; returns a reason when broken. */
function broken(o: Outcome): string | null {
  if (o.ok) return null;
  if (o.name !== 'DvclError') return `threw ${o.name}, not a DvclError`;
  if (o.exit !== 2) return `exit ${o.exit}, not 2`;
  if (!FILES.test(o.message!)) return 'message does not start with the file (and line:col)';
  if (/[\n\r]/.test(o.message!)) return 'message is more than one line';
  if (/[\u202a-\u202e\u2066-\u2069\ufeff]/.test(o.message!)) return 'message holds invisible or reordering characters';
  return null;
}

const work = scratch('dvcl-reli-fuzz-');
afterAll(() => work.cleanup());

describe('fuzzing .pipelinerc', () => {
  it(`${CASES} seeded mutations of valid configurations: a valid config or one exit-2 line, nothing else (seed ${SEED})`, { timeout: 300_000 }, async () => {
    process.stdout.write(`fuzz test: RELIABILITY_SEED=${SEED}, ${CASES} cases\n`);
    const dir = path.join(work.dir, 'inproc');
    fs.mkdirSync(dir);
    const configModule = new URL('../../dist/core/config/load.js', import.meta.url).href;
    let worker = new Worker(path.join(here, 'fuzz-worker.mjs'), { workerData: { dir, configModule } });
    let pending: ((o: Outcome) => void) | null = null;
    const ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (m) => (m.ready ? resolve() : pending?.(m)));
      worker.on('error', reject);
    });
    await ready;

    const r = rng(SEED);
    const outcomes: { c: FuzzCase; o: Outcome }[] = [];
    try {
      for (let id = 0; id < CASES; id++) {
        const c = makeCase(id, r);
        let timer: NodeJS.Timeout | undefined;
        const o = await Promise.race([
          new Promise<Outcome>((resolve) => { pending = resolve; worker.postMessage(c); }),
          new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), CASE_BUDGET_MS); }),
        ]);
        clearTimeout(timer);
        if (o === null) {
          await worker.terminate();
          throw new Error(show(c, null, `no answer within ${CASE_BUDGET_MS} ms: a hang`));
        }
        const why = broken(o);
        if (why) throw new Error(show(c, o, why));
        outcomes.push({ c, o });
      }
    } finally {
      await worker.terminate();
    }
    const errors = outcomes.filter((x) => !x.o.ok).length;
    // Most mutations break something, but not all: both paths must be exercised.
    expect(errors).toBeGreaterThan(CASES / 4);
    expect(CASES - errors).toBeGreaterThan(CASES / 20);

    // A sample through the CLI, in one project reused from case to case (so the configuration cache
    // of .dvcl/ is in play): the same verdict, one message line, no stack trace, nothing run.
    const proj = path.join(work.dir, 'cli');
    fs.mkdirSync(path.join(proj, '.dvcl'), { recursive: true });
    const sample = [...outcomes.filter((x) => !x.o.ok).slice(0, CLI_CASES * 3 / 4), ...outcomes.filter((x) => x.o.ok).slice(0, CLI_CASES / 4)];
    for (const { c, o } of sample) {
      for (const [name, text] of Object.entries(c.files)) fs.writeFileSync(path.join(proj, name), text);
      const args = c.id % 2 ? ['status'] : ['dag'];
      const res = dvcl(proj, args);
      const ctx = show(c, o, `dvcl ${args[0]}: exit ${res.code}\nstderr:\n${res.stderr}`);
      expect(res.stderr, ctx).not.toMatch(STACK);
      expect(res.stderr, ctx).not.toMatch(/internal error/);
      if ([o.message, res.stderr].some((m) => m?.includes('nested too deeply'))) {
        // How deep the parser gets depends on the thread's stack: a verdict near the limit may differ.
        expect([0, 2], ctx).toContain(res.code);
      } else if (o.ok) {
        expect(res.code, ctx).toBe(0);
      } else {
        expect(res.code, ctx).toBe(2);
        expect(res.stderr.split('\n')[0], ctx).toBe(`Error: ${o.message}`);
      }
    }
    expect(fs.readdirSync(proj).filter((f) => f.includes('INJECTED'))).toEqual([]);
    figure('fuzz', { seed: SEED, cases: CASES, config_errors: errors, valid: CASES - errors, cli_cases: sample.length, failures: 0 });
  });
});
