import { DvclError } from '../errors.js';
import { openFolderStore } from './folder-store.js';
import type { ObjectStore } from './object-store.js';
import { parseRemoteUrl, type RemoteOptions } from '../config/remote-settings.js';

/** The store behind a remote URL (loads the AWS SDK only here); the caller closes it. */
export async function openRemote(url: string, options: RemoteOptions, ctx: { cwd: string }): Promise<ObjectStore> {
  const where = parseRemoteUrl(url, ctx.cwd);
  if (where.kind === 'folder') return openFolderStore(url, where.root);
  const { openS3Store } = await import('./s3-store.js');
  return openS3Store(url, where, options);
}

/** `remote` and `remote_options` as one file's settings give them. */
export interface RemoteSetting {
  remote?: string;
  options?: RemoteOptions;
}

export interface ResolvedRemote {
  url: string;
  /** The shared file's options with the local file's over them, whichever source named the URL. */
  options: RemoteOptions;
  from: 'flag' | 'env' | 'local' | 'shared';
}

/** The remote: `-r`, DVCL_REMOTE, `.pipelinerc.local`, `.pipelinerc` (empty is unset); null when none. */
export function resolveRemote(sources: { flag?: string | null; env?: string | null; local?: RemoteSetting | null; shared?: RemoteSetting | null }): ResolvedRemote | null {
  const options = { ...sources.shared?.options, ...sources.local?.options };
  const candidates = [
    ['flag', sources.flag], ['env', sources.env], ['local', sources.local?.remote], ['shared', sources.shared?.remote],
  ] as const;
  for (const [from, url] of candidates) if (url) return { url, options, from };
  return null;
}

/** The error when a command needs a remote and none is configured (exit 2). */
export function noRemote(): DvclError {
  return new DvclError('config', 'no remote configured', {
    suggestions: ['set settings.remote in .pipelinerc (or .pipelinerc.local), or DVCL_REMOTE, or pass -r URL'],
  });
}

