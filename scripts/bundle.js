// Bundles the CLI with esbuild, over tsc's output of the same files (`npm run build` runs tsc first,
// then this, then scripts/manifest.js). Why: loading @oclif/core and the CommonJS packages under it
// file by file costs ~100 ms per call (resolution, one read per file, and Node's CJS export lexer
// on every CommonJS file imported from ESM); one pre-linked ESM graph costs a fraction of that.
//
// Entry points are what oclif imports by path: bin/run.js's dist/cli/execute.js, the commands
// (oclif.manifest.json names dist/commands/NAME.js) and the help class. Code splitting keeps one
// oclif instance shared by all of them, and every `await import()` inside a command's run() a
// separate chunk, still loaded only when that command needs it. The library (dist/index.js and
// dist/core/*) stays tsc's output, module per module, with its .d.ts files.
//
// Chunks go to dist/chunks/, as deep as dist/cli/ and dist/core/: code that finds package.json or
// bin/run.js relative to import.meta.url (core/version.ts, cli/self.ts) works unchanged.
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = (...p) => path.join(root, 'src', ...p);

const entryPoints = { 'cli/execute': src('cli/execute.ts') };
// Topics (`params diff`) are folders: oclif names dist/commands/params/diff.js.
for (const f of fs.readdirSync(src('commands'), { recursive: true })) {
  if (f.endsWith('.ts') && !f.endsWith('.d.ts')) entryPoints[`commands/${f.slice(0, -3)}`] = src('commands', f);
}
if (fs.existsSync(src('cli/help.ts'))) entryPoints['cli/help'] = src('cli/help.ts');

const result = await build({
  absWorkingDir: root,
  entryPoints,
  outdir: path.join(root, 'dist'),
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Whitespace and syntax only: stack traces (DEBUG=1) keep readable names.
  minifyWhitespace: true,
  minifySyntax: true,
  // oclif's TypeScript support for development (ts-node, typescript) is never used by the built CLI;
  // hash-wasm's index is only a fallback (core/hashing/hash.ts loads one algorithm's build from node_modules).
  // The AWS SDK is loaded by S3 remotes only (store/s3-store.ts imports it inside a function): left
  // to Node, which loads it from node_modules as any package; bundled, its CommonJS exports came
  // out undefined through esbuild's interop (`S3Client is not a constructor`).
  external: ['typescript', 'ts-node', 'hash-wasm', '@aws-sdk/*'],
  // CommonJS code inside an ESM bundle still calls require() for node: builtins and optional files.
  banner: { js: "import { createRequire as __dvclRequire } from 'node:module'; const require = __dvclRequire(import.meta.url);" },
  legalComments: 'none',
  logLevel: 'warning',
  write: false,
});

// The same CLI once more as one CommonJS file, dist/cli/cli.cjs, for src/cli/boot.ts to compile with a
// V8 code cache (Node 20 has no compile cache for ES modules: vm.Script takes cachedData, the ESM
// loader does not). Everything a command can load is in it: each `await import()` of dvcl's own
// code becomes a lazily initialised module of the same file.
// oclif loads commands and the help class with import(path): that is patched to take them from the
// bundle, by path relative to dist/, and to hand any other path to the ESM loader (boot.ts).
const OCLIF_IMPORT = 'await import((0, node_url_1.pathToFileURL)(filePath).href)';
const bundled = [...Object.keys(entryPoints).filter((e) => e !== 'cli/execute')];
const cjsEntry = [
  "export { run } from './src/cli/execute.ts';",
  `globalThis[Symbol.for('dvcl.bundled')] = {`,
  ...bundled.map((e) => `  '${e}.js': () => import('./src/${e}.ts'),`),
  '};',
].join('\n');
const cjs = await build({
  absWorkingDir: root,
  stdin: { contents: cjsEntry, resolveDir: root, sourcefile: 'dvcl-cli.js', loader: 'js' },
  outfile: path.join(root, 'dist', 'cli', 'cli.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  external: ['typescript', 'ts-node', 'hash-wasm', '@aws-sdk/*'],
  // dist/cli/cli.cjs sits where dist/cli/execute.js does: paths from import.meta.url still hold.
  define: { 'import.meta.url': '__dvclImportMetaUrl' },
  banner: { js: "var __dvclImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [{
    name: 'oclif-bundled-commands',
    setup(b) {
      b.onLoad({ filter: /@oclif[\\/]core[\\/]lib[\\/]module-loader\.js$/ }, (args) => {
        const text = fs.readFileSync(args.path, 'utf8');
        const n = text.split(OCLIF_IMPORT).length - 1;
        if (n !== 3) throw new Error(`@oclif/core's module-loader.js changed: ${n} of 3 import() calls found; update scripts/bundle.js`);
        // __dirname is dist/cli (the bundle's own); a function declaration, so 'use strict' stays first.
        const load = `\nfunction __dvclLoad(file) {
  const own = globalThis[Symbol.for('dvcl.bundled')]?.[node_path_1.relative(node_path_1.join(__dirname, '..'), file).split(node_path_1.sep).join('/')];
  return own ? own() : globalThis[Symbol.for('dvcl.import')]((0, node_url_1.pathToFileURL)(file).href);
}\n`;
        return { contents: text.replaceAll(OCLIF_IMPORT, 'await __dvclLoad(filePath)') + load, loader: 'js' };
      });
    },
  }],
  legalComments: 'none',
  logLevel: 'warning',
  write: false,
});
// esbuild gives every module that imports a builtin its own copy of it (`__toESM(require("node:fs"), 1)`
// defines a getter per export: 39 copies of node:fs, 35 of node:path at start-up); one view per
// builtin does the same, read-only.
{
  const out = cjs.outputFiles[0];
  const shared = "var __dvclImport = (specifier) => globalThis[Symbol.for('dvcl.import')](specifier);\nvar __dvclBuiltins = new Map(), __dvclBuiltin = (id) => __dvclBuiltins.get(id) ?? __dvclBuiltins.set(id, __toESM(require(id), 1)).get(id);\n";
  // import() of what is not bundled (the AWS SDK, hash-wasm's index, node:http) goes to the ESM
  // loader, as from the ES module chunks: a vm.Script has none of its own (boot.ts lends its own).
  const dynamic = /(?<![\w$."'`])import\(/g;
  const text = out.text.replace(dynamic, '__dvclImport(').replace(/__toESM\(require\("((?:node:)?[a-z0-9_/]+)"\),1\)/g, (all, id) => (builtinModules.includes(id.replace(/^node:/, '')) ? `__dvclBuiltin("${id}")` : all));
  // ASCII only (a raw U+009B of strip-ansi's regex was the one exception): src/cli/boot.ts reads
  // this file on every call, and V8 decodes UTF-8 past the first non-ASCII byte the slow way.
  const ascii = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  out.contents = Buffer.from(ascii.replace('\n', `\n${shared}`));
}

// Tests may be running the CLI from dist/ while this builds: each file is written whole and renamed
// into place, chunks before the entry points that import them, and chunks of earlier builds are
// removed only once they are old enough that no run can still be loading them.
const outputs = [...result.outputFiles, ...cjs.outputFiles].sort((a, b) => Number(!a.path.includes('/chunks/')) - Number(!b.path.includes('/chunks/')));
for (const f of outputs) {
  fs.mkdirSync(path.dirname(f.path), { recursive: true });
  const tmp = `${f.path}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, f.contents);
  fs.renameSync(tmp, f.path);
}
const chunkDir = path.join(root, 'dist', 'chunks');
const current = new Set(outputs.map((f) => f.path));
for (const name of fs.readdirSync(chunkDir)) {
  const file = path.join(chunkDir, name);
  if (!current.has(file) && Date.now() - fs.statSync(file).mtimeMs > 15 * 60_000) fs.rmSync(file, { force: true });
}
const chunks = result.outputFiles.length - Object.keys(entryPoints).length;
console.error(`bundled ${Object.keys(entryPoints).length} entry points and ${chunks} chunks into dist/, and all of it into dist/cli/cli.cjs`);
