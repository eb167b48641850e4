import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { DvclError } from '../errors.js';
import { CONFIG_FILE } from '../config/load.js';
import { YamlSource } from '../config/yaml-source.js';
import { writeFileAtomicSync } from '../util/atomic-write.js';
import { translateDvc, type Dropped, type ReadResult } from '../migrate/dvc.js';
import { dvcDefaultRemote, remoteHint } from '../migrate/dvc-remote.js';

export interface ImportResult {
  /** dvc.yaml as named (relative to cwd). */
  source: string;
  /** The .pipelinerc written, or that would be with `dryRun`. */
  out: string;
  written: boolean;
  stages: { name: string; from: string; line: number | null }[];
  dropped: (Dropped & { file: string })[];
  hints: string[];
  text: string;
}

/** Translates a dvc.yaml (given itself or by its dvc.lock) into a .pipelinerc; never overwrites one without `force`. */
export function importDvc(opts: { cwd: string; file?: string; out?: string; force?: boolean; dryRun?: boolean }): ImportResult {
  const given = opts.file ?? 'dvc.yaml';
  const lockGiven = path.basename(given) === 'dvc.lock';
  const source = lockGiven ? path.join(path.dirname(given), 'dvc.yaml') : given;
  const abs = path.resolve(opts.cwd, source);
  const dir = path.dirname(abs);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new DvclError('config', `cannot read ${source}: ${missing ? 'no such file' : (e as Error).message}`, {
      suggestions: [missing ? 'name the dvc.yaml to import: `dvcl import path/to/dvc.yaml`' : 'check the file\'s permissions'],
    });
  }
  const outAbs = path.resolve(opts.cwd, opts.out ?? path.join(path.dirname(source), CONFIG_FILE));
  const out = path.relative(opts.cwd, outAbs) || CONFIG_FILE;
  if (!opts.dryRun && !opts.force && fs.existsSync(outAbs)) {
    throw new DvclError('config', `${out} already exists`, { suggestions: ['pass --force to replace it, --out FILE to write elsewhere, or --dry-run to print the translation'] });
  }
  const base = path.relative(path.dirname(outAbs), dir).split(path.sep).join('/') || '.';
  const t = translateDvc({ src: YamlSource.parse(source, text), base, readFile: (rel) => readData(path.join(dir, rel)) });
  const hints = [...t.hints, ...lockHints(path.join(dir, 'dvc.lock'), lockGiven), ...remoteHints(dir, path.dirname(outAbs))];
  if (!opts.dryRun) writeFileAtomicSync(outAbs, t.text);
  return { source, out, written: !opts.dryRun, stages: t.stages, dropped: t.dropped.map((d) => ({ file: source, ...d })), hints, text: t.text };
}

function readData(file: string): ReadResult {
  if (/\.(toml|py)$/i.test(file)) return fs.existsSync(file) ? { unsupported: 'dvcl import reads YAML and JSON only' } : { missing: true };
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { missing: true };
  }
  try {
    return { data: parse(text, { maxAliasCount: 100 }) };
  } catch (e) {
    return { unsupported: `invalid YAML: ${(e as Error).message.split('\n')[0]}` };
  }
}

/** dvc.lock cannot seed pipeline.lock: its md5s are of DVC's own keys (dvcl hashes the command, params and folders its own way). */
function lockHints(lockFile: string, given: boolean): string[] {
  if (!fs.existsSync(lockFile)) return given ? ['dvc.lock was not found: there is nothing to say about recorded runs'] : [];
  let recorded = 0;
  try {
    const lock = parse(fs.readFileSync(lockFile, 'utf8')) as { stages?: Record<string, unknown> } | null;
    recorded = Object.keys(lock?.stages ?? {}).length;
  } catch {
    return ['dvc.lock is not valid YAML: it was not read (it is not needed)'];
  }
  return [`dvc.lock records ${recorded} stage run${recorded === 1 ? '' : 's'}; they are not carried over: DVC's hashes (md5 of its own keys, \`.dir\` listings) are not what pipeline.lock records, so the first \`dvcl repro\` runs every stage once (run \`dvc pull\` before it, so the data the stages read is there)`];
}

/** The default remote of the DVC project dvc.yaml is in (the nearest `.dvc/config` up from it). */
function remoteHints(dir: string, outDir: string): string[] {
  for (let d = dir; ; d = path.dirname(d)) {
    const config = path.join(d, '.dvc', 'config');
    if (fs.existsSync(config)) {
      let text: string;
      try {
        text = fs.readFileSync(config, 'utf8');
      } catch {
        return [];
      }
      const remote = dvcDefaultRemote(text);
      if (!remote) return [];
      // A local remote's relative path is relative to .dvc/, dvcl's to the project.
      const local = /^[a-z][a-z0-9+.-]*:\/\//i.test(remote.url) ? undefined : path.relative(outDir, path.resolve(d, '.dvc', remote.url)).split(path.sep).join('/');
      return [remoteHint(remote, local)];
    }
    if (fs.existsSync(path.join(d, '.git')) || path.dirname(d) === d) return [];
  }
}
