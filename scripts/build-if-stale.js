// `npm test`, `npm run demo` and the campaign: build only when a source is newer than the last build
// (oclif.manifest.json is its last step), or when there is none, as in a fresh clone after `npm install`
// (which does not build: the build is `prepack`, so that installing dvcl runs no script).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const mtime = (f) => fs.statSync(path.join(root, f), { throwIfNoEntry: false })?.mtimeMs ?? 0;
const built = Math.min(mtime('oclif.manifest.json'), mtime('dist/cli/execute.js'), mtime('dist/index.js'), mtime('dist/cjs/index.cjs'));
const sources = ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/bundle.js', 'scripts/bundle-cjs.js', 'scripts/manifest.js',
  ...fs.readdirSync(path.join(root, 'src'), { recursive: true }).map((f) => path.join('src', f))];
if (built === 0 || sources.some((f) => mtime(f) > built)) {
  execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
}
