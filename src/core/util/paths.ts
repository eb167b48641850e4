// util/: small things every layer uses. Project paths: normalising, containment, globs.
import path from 'node:path';

export function normalizeRelPath(p: string): { path: string } | { error: string } {
  if (typeof p !== 'string' || p.trim() === '') return { error: 'empty path' };
  if (p.includes('\0')) return { error: 'path contains a NUL byte' };
  if (path.posix.isAbsolute(p) || /^[A-Za-z]:[\\/]/.test(p)) {
    return { error: `"${p}" is absolute; paths are relative to the project root` };
  }
  const norm = path.posix.normalize(p).replace(/\/+$/, '');
  if (norm === '..' || norm.startsWith('../')) return { error: `"${p}" climbs out of the project root` };
  return { path: norm === '' ? '.' : norm };
}

export function isInside(inner: string, outer: string): boolean {
  if (outer === '.' || inner === outer) return true;
  return inner.startsWith(outer + '/');
}

export function overlaps(a: string, b: string): boolean {
  return isInside(a, b) || isInside(b, a);
}

const GLOB_CHARS = /[*?[\]{}()!]/;

export function globBase(glob: string): string {
  const parts = glob.split('/');
  const lit: string[] = [];
  for (const part of parts) {
    if (GLOB_CHARS.test(part)) break;
    lit.push(part);
  }
  if (lit.length === parts.length) lit.pop(); // no glob characters: the last part is a file name
  return lit.length ? lit.join('/') : '.';
}

export function isGlob(p: string): boolean {
  return GLOB_CHARS.test(p);
}

export function abs(root: string, rel: string): string {
  return rel === '.' ? root : path.join(root, rel);
}

export function relFromRoot(root: string, absPath: string): string | null {
  const r = path.relative(root, absPath);
  if (r === '') return '.';
  if (r.startsWith('..') || path.isAbsolute(r)) return null;
  return r.split(path.sep).join('/');
}
