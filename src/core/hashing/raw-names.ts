import fs from 'node:fs';
import path from 'node:path';

// Non-UTF-8 names decode with U+FFFD, naming no file: reported with their bytes escaped, never dropped.

export const REPLACEMENT = '\ufffd';

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function showBytes(name: Uint8Array): string {
  let out = '';
  for (let i = 0; i < name.length;) {
    let n = 1;
    for (; n <= 4 && i + n <= name.length; n++) {
      try {
        out += strict.decode(name.subarray(i, i + n));
        break;
      } catch { /* not a whole character (yet) */ }
    }
    if (n > 4 || i + n > name.length) {
      out += `\\x${name[i].toString(16).padStart(2, '0')}`;
      n = 1;
    }
    i += n;
  }
  return out;
}

export function isUndecodable(raw: Buffer): boolean {
  return !Buffer.from(raw.toString('utf8'), 'utf8').equals(raw);
}

export function joinRaw(dir: Buffer, name: Buffer): Buffer {
  return Buffer.concat([dir, Buffer.from(path.sep), name]);
}

export function undecodedPaths(root: string, rel: string): string[] {
  let at: { abs: Buffer; shown: string; bad: boolean }[] = [{ abs: Buffer.from(root), shown: '', bad: false }];
  for (const seg of rel.split('/')) {
    const next: typeof at = [];
    for (const p of at) {
      const join = (raw: Buffer, shown: string, bad: boolean) => next.push({ abs: joinRaw(p.abs, raw), shown: p.shown ? `${p.shown}/${shown}` : shown, bad: p.bad || bad });
      if (!seg.includes(REPLACEMENT)) {
        join(Buffer.from(seg), seg, false);
        continue;
      }
      let names: Buffer[];
      try {
        names = fs.readdirSync(p.abs, { encoding: 'buffer' });
      } catch {
        continue; // gone meanwhile
      }
      for (const raw of names) if (raw.toString('utf8') === seg) join(raw, showBytes(raw), isUndecodable(raw));
    }
    at = next;
  }
  return at.filter((p) => p.bad).map((p) => p.shown);
}
