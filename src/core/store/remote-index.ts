import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { PipelineConfig } from '../pipeline.js';
import { writeFileAtomicSync } from '../util/atomic-write.js';
import { resolveRemote, type ResolvedRemote } from './remote.js';
import { parseRemoteUrl } from '../config/remote-settings.js';

// What this clone knows is on a remote (`.dvcl/remotes/<id>`), for status's `restorable`: a hint, never trusted by pull.
const MAGIC = 'dvcl-remote-index\t1';

/** The remote to use, as configuration and the environment name it (no flag): null when none does. */
export function configuredRemote(cfg: PipelineConfig, flag?: string | null): ResolvedRemote | null {
  return resolveRemote({ flag, env: process.env.DVCL_REMOTE, local: cfg.remote?.local, shared: cfg.remote?.shared });
}

/** What a relative folder remote is relative to: where the user is when they name it (-r, DVCL_REMOTE), else the project. */
export function remoteBase(remote: ResolvedRemote, root: string): string {
  return remote.from === 'flag' || remote.from === 'env' ? process.cwd() : root;
}

/** One text naming where a remote's objects are: the same folder or bucket prefix by any spelling. */
export function remoteId(remote: ResolvedRemote, root: string): string {
  const where = parseRemoteUrl(remote.url, root);
  if (where.kind === 'folder') return `file:${where.root}`;
  return `s3://${where.bucket}/${where.prefix}${remote.options.endpoint ? ` at ${remote.options.endpoint}` : ''}`;
}

export class RemoteIndex {
  private readonly hashes: Set<string>;
  private changed = false;

  private constructor(private readonly file: string, private readonly id: string, hashes: Iterable<string>) {
    this.hashes = new Set(hashes);
  }

  /** The index of remote `id`; empty when there is none or it is unreadable. */
  static load(stateDir: string, id: string): RemoteIndex {
    const file = path.join(stateDir, 'remotes', createHash('sha256').update(id).digest('hex').slice(0, 16));
    let lines: string[] = [];
    try {
      lines = fs.readFileSync(file, 'utf8').split('\n');
    } catch { /* none yet */ }
    const ok = lines[0] === `${MAGIC}\t${JSON.stringify(id)}`;
    return new RemoteIndex(file, id, ok ? lines.slice(1).filter(Boolean) : []);
  }

  has(hash: string): boolean {
    return this.hashes.has(hash);
  }

  add(hashes: Iterable<string>): void {
    for (const h of hashes) {
      if (this.hashes.has(h)) continue;
      this.hashes.add(h);
      this.changed = true;
    }
  }

  delete(hashes: Iterable<string>): void {
    for (const h of hashes) if (this.hashes.delete(h)) this.changed = true;
  }

  /** Written whole (temp and rename); a failure to write is no error: the index is a hint. */
  save(): void {
    if (!this.changed) return;
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      writeFileAtomicSync(this.file, `${MAGIC}\t${JSON.stringify(this.id)}\n${[...this.hashes].join('\n')}\n`, { fsync: false });
      this.changed = false;
    } catch { /* read-only or full: the next push or pull writes it */ }
  }
}
