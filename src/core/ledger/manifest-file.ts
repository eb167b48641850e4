import { constants, copyFileSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, isAbsolute, relative } from 'node:path';
import { writeFileAtomicSync, type PieceWriter } from '../util/atomic-write.js';
import { conflictHint } from './lock.js';
import { DvclError } from '../errors.js';
import { checkManifest, emptyManifest, type ManifestCheck, type ManifestData } from './manifest-format.js';

// The manifest on disk: reading with recovery from the backup, and atomic writes that keep one.

export function writeManifestFile(path: string, text: string | PieceWriter, keepBackup: boolean): void {
  try {
    if (keepBackup) backUp(path, `${path}.bak`);
    writeFileAtomicSync(path, text, { fsync: true });
  } catch (e) {
    throw new DvclError('io', `cannot save ${shown(path)} (the previous version is unchanged): ${(e as Error).message}`);
  }
}

/** Missing → empty; corrupt → the backup (the corrupt file kept aside unless `readOnly`), `restored` to write back. */
export function loadWithRecovery(path: string, warn: (msg: string) => void, readOnly: boolean): { data: ManifestData; restored: boolean } {
  const main = readManifest(path);
  if (main === 'missing') return { data: emptyManifest(), restored: false };
  if (main.ok) return { data: main.data, restored: false };
  if (main.kind === 'version') {
    throw new DvclError('corrupt', `${shown(path)}: ${main.message}. The file is valid, not corrupt, so it was not restored from the backup and was left untouched.`, {
      suggestions: ['upgrade dvcl to the version that wrote it'],
    });
  }
  const bakPath = `${path}.bak`;
  const bak = readManifest(bakPath);
  if (bak !== 'missing' && bak.ok) {
    if (readOnly) {
      warn(`${shown(path)} is unusable (${main.message}); reading its backup ${shown(bakPath)} instead`);
    } else if (main.kind === 'empty') {
      warn(`${shown(path)} was empty; restored it from ${shown(bakPath)}`);
    } else {
      const aside = keepAside(path);
      warn(`${shown(path)} was corrupt (${main.message}); restored it from ${shown(bakPath)}, the corrupt file is kept as ${shown(aside)}`);
    }
    return { data: bak.data, restored: true };
  }
  if (main.kind === 'empty') {
    // Nothing to lose: we never write an empty file, so something else truncated or created it.
    warn(`${shown(path)} is empty and has no usable backup; starting with an empty manifest`);
    return { data: emptyManifest(), restored: false };
  }
  const why = bak === 'missing' ? 'there is no backup' : `its backup ${shown(bakPath)} is unusable too (${bak.message})`;
  const rel = basename(path);
  throw new DvclError('corrupt', `${shown(path)} is corrupt (${main.message}) and ${why}.`, {
    suggestions: main.message.includes('conflict') ? conflictHint(rel)
      : [`restore it from git (git checkout -- ${rel}), or move it away to start afresh: every item will then run again`],
  });
}

function readManifest(path: string): ManifestCheck | 'missing' {
  try {
    return checkManifest(readText(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw new DvclError('io', `cannot read ${shown(path)}: ${(e as Error).message}`);
  }
}

/** Bytes then decoded as UTF-8, even when all ASCII: faster on Node 20 (BENCHMARKS.md). */
function readText(path: string): string {
  return readFileSync(path).toString('utf8');
}

/** Copied, never hard-linked (an in-place edit would corrupt both), via a temporary name so `.bak` is whole. */
function backUp(path: string, bak: string): void {
  const tmp = `${bak}.tmp-${process.pid}`;
  try {
    copyFileSync(path, tmp);
    renameSync(tmp, bak);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && (e as NodeJS.ErrnoException).path === path) return; // first save
    throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
}

function keepAside(path: string): string {
  const stamp = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
  for (let n = 0; ; n++) {
    const aside = `${path}.corrupt-${stamp}${n ? `-${n}` : ''}`;
    try {
      copyFileSync(path, aside, constants.COPYFILE_EXCL);
      return aside;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new DvclError('io', `cannot keep the corrupt ${shown(path)} aside as ${shown(aside)}: ${(e as Error).message}`);
      }
    }
  }
}

export function shown(p: string): string {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith('..') && !isAbsolute(r) ? r : p;
}
