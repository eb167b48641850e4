// A per-item stage's inputs: which files its `foreach` globs match, and where each item's output goes.
import fs from 'node:fs';
import path from 'node:path';
import { globSync } from 'tinyglobby';
import type { StageConfig } from '../pipeline.js';
import { cmp } from '../ledger/lock.js';
import { DvclError } from '../errors.js';
import { abs } from '../util/paths.js';
import { REPLACEMENT, undecodedPaths } from '../hashing/raw-names.js';
import { RESERVED_HINT, reservedOut } from '../config/reserved.js';
import { outputOf as prepareOutput } from '../template.js';

export interface ItemListing {
  items: string[];
  skipped: string[];
  /** One worker's partition (`--shard`): records of the other items are not "dropped" (gather drops what no worker listed). */
  partition?: true;
}

export function listItems(root: string, stage: StageConfig): ItemListing {
  const simple = listSimple(root, stage.foreach!);
  if (simple) return withoutUndecodable(root, simple, []);
  // Folders the glob cannot enter as their names are not valid UTF-8: tinyglobby skips them silently.
  const unreadable: string[] = [];
  const readdirSync = ((dir: fs.PathLike, o?: unknown) => {
    try {
      return fs.readdirSync(dir, o as never);
    } catch (e) {
      if (String(dir).includes(REPLACEMENT)) unreadable.push(String(dir));
      throw e;
    }
  }) as typeof fs.readdirSync;
  const found = globSync(stage.foreach!, { cwd: root, onlyFiles: true, dot: false, expandDirectories: false, ignore: ['.git/**', '.dvcl/**'], fs: { ...fs, readdirSync } });
  const dirs = unreadable.map((d) => path.relative(root, path.resolve(root, d)).split(path.sep).join('/'));
  return withoutUndecodable(root, [...new Set(found)].sort(cmp), dirs);
}

function withoutUndecodable(root: string, found: string[], dirs: string[]): ItemListing {
  const skipped = dirs.flatMap((d) => undecodedPaths(root, d).map((p) => `${p}/`));
  if (!found.some((f) => f.includes(REPLACEMENT))) return { items: found, skipped: skipped.sort(cmp) };
  const items: string[] = [];
  const seen = new Set<string>();
  for (const f of found) {
    if (!f.includes(REPLACEMENT)) items.push(f);
    else if (!seen.has(f)) {
      seen.add(f); // names that decode alike come out once per name on disk
      skipped.push(...undecodedPaths(root, f));
      if (fs.lstatSync(abs(root, f), { throwIfNoEntry: false })) items.push(f); // a name that holds U+FFFD itself
    }
  }
  return { items, skipped: skipped.sort(cmp) };
}

const SIMPLE_GLOB = /^((?:[\w-][\w.-]*\/)*)\*((?:\.[\w-]+)*)$/;

// One readdir per simple glob instead of tinyglobby (measurably faster); null: use tinyglobby.
function listSimple(root: string, globs: string[]): string[] | null {
  const found: string[] = [];
  for (const g of globs) {
    const m = SIMPLE_GLOB.exec(g);
    if (!m) return null;
    const [, dir, ext] = m;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir ? abs(root, dir.slice(0, -1)) : root, { withFileTypes: true });
    } catch {
      return null;
    }
    for (let i = 0; i < entries.length; i++) {
      const d = entries[i];
      const name = d.name;
      if (name.charCodeAt(0) === 0x2e || !name.endsWith(ext)) continue; // `.` : dotfiles
      if (d.isFile()) found.push(dir + name);
      else if (!d.isDirectory()) return null;
    }
  }
    // Sorting without a comparator orders by UTF-16 code units, as cmp does, and is faster.
  return globs.length > 1 ? [...new Set(found)].sort() : found.sort();
}

/** Two items writing one file: the last to finish wins, and every run re-runs the other. */
function sharedOutput(stage: string, a: string, b: string, out: string): DvclError {
  return new DvclError('config', `stage ${stage}: items ${a} and ${b} both write ${out}`, {
    suggestions: ['make `out` unique per item, e.g. with ${name} (the whole file name) instead of ${stem}, or ${dir}/ for items in several folders'],
  });
}

/** `${stem}` of a file named `...txt` is `..`, so `out/${stem}/${stem}/${stem}.x` climbs out. */
function outsideOutput(stage: string, item: string, out: string): DvclError | null {
  if (out !== '.' && out !== '..' && !out.startsWith('../') && !out.startsWith('/')) return null;
  return new DvclError('config', `stage ${stage}: the output of item ${item} would be ${out}, outside the project`, {
    suggestions: ['rename the input file, or build `out` from ${name} rather than ${stem}'],
  });
}

export function checkItemOutputs(root: string, stage: StageConfig): ItemListing {
  const outputOf = checkedOutputs(stage);
  const listing = listItems(root, stage);
  for (const item of listing.items) outputOf(item);
  return listing;
}

export function checkedOutputs(stage: StageConfig): (item: string) => string {
  const outputOf = prepareOutput(stage.out!);
  const writers = new Map<string, string>();
  return (item) => {
    const out = outputOf(item);
    const outside = outsideOutput(stage.name, item, out);
    if (outside) throw outside;
    const why = reservedOut(out);
    if (why) {
      throw new DvclError('config', `stage ${stage.name}: the output of item ${item} would be ${out}, which ${why}`, {
        suggestions: [`${RESERVED_HINT}; build \`out\` so that no item's output lands there`],
      });
    }
    const other = writers.get(out);
    if (other !== undefined) throw sharedOutput(stage.name, other, item, out);
    writers.set(out, item);
    return out;
  };
}
