/*
 * A directory out's tree object: exactly the text its directory hash is the hash of (Hasher.tree,
 * the comment on hashDir), so an object read back is checked like any other, by its hash. Lines:
 *   `${rel}\0${fileHash}\n`                    a file
 *   `${rel}\0link:${JSON.stringify(target)}\n` a symlink that was not followed
 * A name may hold a newline; neither a hash nor a JSON string holds a raw one, and no name a NUL:
 * so the text is split at NULs, and each piece after the first at its first newline.
 */

export type TreeEntry = { rel: string; hash: string; link?: undefined } | { rel: string; link: string; hash?: undefined };

const HASH = /^[a-z0-9]+:[0-9a-f]{8,128}$/;

/** The entries of a tree object, or null for a foreign shape or a path that would write outside the out. */
export function parseTree(text: string): TreeEntry[] | null {
  if (text === '') return [];
  if (!text.endsWith('\n')) return null;
  const pieces = text.split('\0');
  const entries: TreeEntry[] = [];
  let rel = pieces[0];
  for (let i = 1; i < pieces.length; i++) {
    const piece = pieces[i];
    const nl = piece.indexOf('\n');
    if (nl < 0) return null;
    const value = piece.slice(0, nl);
    if (!safeRel(rel)) return null;
    if (value.startsWith('link:')) {
      let target: unknown;
      try {
        target = JSON.parse(value.slice(5));
      } catch {
        return null;
      }
      if (typeof target !== 'string') return null;
      entries.push({ rel, link: target });
    } else if (HASH.test(value)) entries.push({ rel, hash: value });
    else return null;
    rel = piece.slice(nl + 1);
  }
  return rel === '' ? entries : null;
}

function safeRel(rel: string): boolean {
  if (rel === '' || rel.startsWith('/')) return false;
  return rel.split('/').every((s) => s !== '' && s !== '.' && s !== '..' && s !== '.git' && s !== '.dvcl');
}
