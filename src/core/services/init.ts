import fs from 'node:fs';
import path from 'node:path';
import { CONFIG_FILE } from '../config/load.js';
import { getLocalConfig, gitTopLevel, setLocalConfig } from '../git/git.js';
import { installHooks } from '../git/hooks.js';

/** Where editors fetch the schema of `.pipelinerc` (schema/pipelinerc.schema.json, published with the package). */
export const SCHEMA_URL = 'https://unpkg.com/dvcl/schema/pipelinerc.schema.json';

// The modeline comes first: yaml-language-server (VS Code, Neovim, Helix...) reads it to validate and complete the file.
export const STARTER_CONFIG = `# yaml-language-server: $schema=${SCHEMA_URL}
# dvcl pipeline: see .pipelinerc.example in the dvcl package for every key.
version: 1
settings:
  # jobs: 4            # parallel stages/items (default: number of CPUs)
  # hash: xxh128       # xxh128 | blake3 | sha256 | md5
  # max_attempts: 3    # retry gives up on an item after this many failed attempts
params: params.yaml    # default parameters file
stages:
  # prepare:
  #   desc: Split the raw data
  #   cmd: node scripts/prepare.js
  #   deps: [data/raw, scripts/prepare.js]
  #   params: [prepare.split]
  #   outs: [data/prepared]
  # parse:               # a per-item stage: cmd runs once per matching file
  #   foreach: data/raw/*.html
  #   out: data/parsed/\${stem}.json
  #   cmd: node scripts/parse.js \${item} \${out}
  #   deps: [scripts/parse.js]
`;

export const MERGE_FILES = ['pipeline.lock', '.manifest.json'];

export interface InitResult { root: string; changes: string[]; warnings: string[] }

/** Idempotent; never overwrites a file's content, only appends. */
export async function init(opts: { cwd: string; driverCommand: string; mergeDriver?: string; hooks?: boolean }): Promise<InitResult> {
  const root = path.resolve(opts.cwd);
  const changes: string[] = [];
  const warnings: string[] = [];
  const cfg = path.join(root, CONFIG_FILE);
  if (!fs.existsSync(cfg)) {
    fs.writeFileSync(cfg, STARTER_CONFIG);
    changes.push(`created ${CONFIG_FILE}`);
  }
    // .dvcl/ is local state; so are a clone's own settings, the manifest's backup and any corrupt copy.
  const ignored = ['.dvcl/', '.pipelinerc.local', '.manifest.json.bak', '.manifest.json.corrupt-*'];
  const same = (want: string, have: string) => have.replace(/^\//, '').replace(/\/$/, '') === want.replace(/\/$/, '');
  if (appendMissingLines(path.join(root, '.gitignore'), ignored, same)) {
    changes.push(`added ${ignored.join(', ')} to .gitignore`);
  }
  const attrs = MERGE_FILES.map((f) => `${f} merge=dvcl`);
  if (appendMissingLines(path.join(root, '.gitattributes'), attrs)) changes.push('added the dvcl merge driver to .gitattributes');
  if (await gitTopLevel(root)) {
    const driver = opts.mergeDriver ?? `${opts.driverCommand} merge-driver %O %A %B %P`;
    if ((await getLocalConfig(root, 'merge.dvcl.driver')) !== driver) {
      await setLocalConfig(root, 'merge.dvcl.name', 'dvcl: merge pipeline.lock and .manifest.json entry by entry');
      await setLocalConfig(root, 'merge.dvcl.driver', driver);
      changes.push('registered the dvcl merge driver in .git/config');
    }
    if (opts.hooks) {
      const h = await installHooks({ root, command: opts.driverCommand });
      changes.push(...h.changes);
      warnings.push(...h.warnings);
    }
  } else {
    warnings.push(`not a git repository: the merge driver ${opts.hooks ? 'and the hook are' : 'is'} not registered (run \`git init\`, then \`dvcl init\` again)`);
  }
  return { root, changes, warnings };
}

function appendMissingLines(file: string, lines: string[], same: (want: string, have: string) => boolean = (a, b) => a === b): boolean {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const have = text.split(/\r?\n/).map((l) => l.trim());
  const missing = lines.filter((l) => !have.some((h) => same(l, h)));
  if (missing.length === 0) return false;
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  fs.writeFileSync(file, text + sep + missing.join('\n') + '\n');
  return true;
}
