// The library for require(): dist/cjs/index.cjs, one CommonJS file made by esbuild from src/index.ts, for Node
// before 20.19 (engines says >=20.17), which cannot require() an ES module. `import 'dvcl'` still gets tsc's
// dist/index.js; package.json's exports send require('dvcl') here.
//
// Packages stay external: they are dvcl's dependencies, loaded from node_modules by either build (yaml,
// picomatch, tinyglobby and proper-lockfile publish CommonJS; hash-wasm and the AWS SDK are imported lazily).
// The file sits in dist/cjs/, as deep as dist/core/, so code that finds package.json relative to
// import.meta.url (core/version.ts) finds the same file; import.meta.url is this file's URL.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outfile = path.join(root, 'dist', 'cjs', 'index.cjs');

const result = await build({
  absWorkingDir: root,
  entryPoints: [path.join(root, 'src', 'index.ts')],
  outfile,
  bundle: true,
  packages: 'external',
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  define: { 'import.meta.url': '__dvclImportMetaUrl' },
  banner: { js: "const __dvclImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  legalComments: 'none',
  logLevel: 'warning',
  write: false,
});

// As scripts/bundle.js: written whole and renamed into place, for tests that may be loading it.
fs.mkdirSync(path.dirname(outfile), { recursive: true });
for (const f of result.outputFiles) {
  const tmp = `${f.path}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, f.contents);
  fs.renameSync(tmp, f.path);
}
// Its declarations: tsc's, copied to dist/cjs/ as .d.cts files importing each other as .cjs. A .d.cts that
// re-exported ../index.js would be a CommonJS file importing an ES module, which TypeScript rejects under
// `module: node16` (TS1479) for a consumer without skipLibCheck.
const dist = path.join(root, 'dist');
const relative = /((?:from|import\()\s*['"])(\.\.?\/[^'"]+)\.js(['"])/g;
const copied = new Set();
function copyDeclarations(rel) {
  if (copied.has(rel)) return;
  copied.add(rel);
  const text = fs.readFileSync(path.join(dist, `${rel}.d.ts`), 'utf8');
  for (const m of text.matchAll(relative)) copyDeclarations(path.join(path.dirname(rel), m[2]));
  const target = path.join(dist, 'cjs', `${rel}.d.cts`);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, text.replace(relative, '$1$2.cjs$3'));
}
copyDeclarations('index');
console.error('bundled the CommonJS library into dist/cjs/index.cjs');
