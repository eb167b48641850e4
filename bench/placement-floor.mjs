// The cost of placing 10,000 files of 1 KiB as cp does (create, write) against SPEC §10's way
// (a temporary, then rename), once and twice (the workspace and the cache's copy), each into a
// fresh folder, alternating, with `cp -r` itself as the reference. Medians of ROUNDS.
// node bench/placement-floor.mjs — not part of `npm run bench` (it times the disk, not dvcl).
import fs from 'node:fs'; import os from 'node:os'; import path from 'node:path'; import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
const B = process.env.FLOOR_DIR ?? path.join(os.tmpdir(), 'dvcl-placement-floor'); const ROUNDS = Number(process.env.ROUNDS ?? 5);
fs.rmSync(B, { recursive: true, force: true }); fs.mkdirSync(B + '/src', { recursive: true });
const names = [];
for (let d = 0; d < 100; d++) { fs.mkdirSync(`${B}/src/${d}`); for (let f = 0; f < 100; f++) { const n = `${d}/${f}`; fs.writeFileSync(`${B}/src/${n}`, createHash('sha512').update(n).digest().toString('hex').repeat(8)); names.push(n); } }
const place = (dest, copies, rename) => {
  for (let c = 0; c < copies; c++) for (let d = 0; d < 100; d++) fs.mkdirSync(`${dest}/${c}/${d}`, { recursive: true });
  for (const n of names) {
    const body = fs.readFileSync(`${B}/src/${n}`);
    createHash('md5').update(body).digest();
    for (let c = 0; c < copies; c++) {
      const f = `${dest}/${c}/${n}`;
      if (rename) { fs.writeFileSync(f + '.tmp', body, { flag: 'wx' }); fs.renameSync(f + '.tmp', f); }
      else fs.writeFileSync(f, body, { flag: 'wx' });
    }
  }
};
const ways = {
  'cp -r': (d) => execFileSync('cp', ['-r', `${B}/src`, d]),
  'create (as cp)': (d) => place(d, 1, false),
  'temporary + rename': (d) => place(d, 1, true),
  'temporary + rename, twice': (d) => place(d, 2, true),
};
const t = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
for (let r = 0; r < ROUNDS; r++) {
  const order = Object.keys(ways); if (r % 2) order.reverse();
  for (const k of order) {
    const d = `${B}/out`; fs.rmSync(d, { recursive: true, force: true }); spawnSync('sync'); fs.mkdirSync(d);
    const t0 = process.hrtime.bigint(); ways[k](d + '/x'); t[k].push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
}
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const base = med(t['cp -r']);
for (const [k, v] of Object.entries(t)) console.log(`${k.padEnd(28)} median ${med(v).toFixed(0).padStart(6)} ms  ${(med(v) / base).toFixed(2)}x cp -r   (${v.map((x) => x.toFixed(0)).join(', ')})`);
fs.rmSync(B, { recursive: true, force: true });
