// `npm run demo`: copy examples/quickstart to a temporary folder, make it a git repository, and
// run the pipeline there with the built dvcl — twice, to show the second run does nothing.
// The checkout itself is never touched.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(repo, 'bin', 'run.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-demo-'));
fs.cpSync(path.join(repo, 'examples', 'quickstart'), dir, { recursive: true });

const sh = (cmd, args) => execFileSync(cmd, args, { cwd: dir, stdio: 'inherit' });
const dvcl = (...args) => {
  process.stdout.write(`\n$ dvcl ${args.join(' ')}\n`);
  sh(process.execPath, [bin, ...args]);
};
const git = (...args) => execFileSync('git', ['-c', 'user.name=dvcl demo', '-c', 'user.email=demo@example.org', '-c', 'commit.gpgsign=false', ...args], { cwd: dir, stdio: 'ignore' });

git('init', '-q', '-b', 'main');
dvcl('init');
git('add', '-A');
git('commit', '-q', '-m', 'quickstart pipeline');
dvcl('dag');
dvcl('status');
dvcl('repro');
git('add', '-A');
git('commit', '-q', '-m', 'run the pipeline');
dvcl('status');
dvcl('repro');
process.stdout.write(`\n--- ${path.join(dir, 'reports', 'summary.md')} ---\n`);
process.stdout.write(fs.readFileSync(path.join(dir, 'reports', 'summary.md'), 'utf8'));
process.stdout.write(`\nThe demo project is in ${dir}, a git repository. dvcl is not on your PATH yet (\`npm link\` here puts it there); until then:

  cd ${dir}
  $EDITOR params.yaml    # change a parameter
  node ${bin} status    # what is stale now, and why
  node ${bin} repro     # re-run only that
`);
