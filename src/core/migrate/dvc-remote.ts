// DVC's default remote (`.dvc/config`, an INI file), turned into advice for `settings.remote`:
// dvcl keeps its objects under `dvcl/v1/` below a remote's prefix, so DVC's bucket can be shared.

/** `[core] remote = NAME` and that remote's `url`, or null. */
export function dvcDefaultRemote(configText: string): { name: string; url: string } | null {
  let section = '';
  let core: string | null = null;
  const urls = new Map<string, string>();
  for (const raw of configText.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[\s*'?([^\]']*?)'?\s*\]$/.exec(line);
    if (head) {
      section = head[1].trim();
      continue;
    }
    const kv = /^([^=]+?)\s*=\s*(.*)$/.exec(line);
    if (!kv) continue;
    const remote = /^remote\s+"(.+)"$/.exec(section);
    if (section === 'core' && kv[1] === 'remote') core = kv[2];
    else if (remote && kv[1] === 'url') urls.set(remote[1], kv[2]);
  }
  if (core === null || !urls.has(core)) return null;
  return { name: core, url: urls.get(core)! };
}

/** The hint for a DVC remote; `folder` is a local remote's path as `.pipelinerc` would name it. */
export function remoteHint(remote: { name: string; url: string }, folder?: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(remote.url)?.[1]?.toLowerCase();
  const is = `DVC's default remote "${remote.name}" is ${remote.url}`;
  const below = "(dvcl's objects go under dvcl/v1/ below it, beside DVC's files/)";
  if (scheme === 's3') return `${is}: dvcl can share it: \`settings.remote: ${remote.url}\` ${below}`;
  if (scheme === undefined || scheme === 'file') return `${is}: dvcl can share the folder: \`settings.remote: ${folder ?? remote.url}\` ${below}`;
  if (scheme === 'gs') return `${is}: dvcl reaches GCS through its S3 API: \`settings.remote: s3://${remote.url.slice(5)}\` with \`remote_options.endpoint: https://storage.googleapis.com\` and HMAC keys`;
  return `${is}: dvcl's remotes are S3-compatible buckets and folders; choose one for \`settings.remote\``;
}
