import fs from 'node:fs';
import path from 'node:path';
import { shellQuote } from '../template.js';
import { gitOk } from './git.js';

export const HOOK_FILE = 'dvcl-pre-commit';

// Right after the shebang: hooks often end in `exec …` or `exit`, after which an appended line never runs.
export const CHAIN_LINE = `[ ! -x "$(dirname "$0")/${HOOK_FILE}" ] || "$(dirname "$0")/${HOOK_FILE}" # added by \`dvcl init --hooks\`: warns when pipeline.lock is stale, never blocks`;

// The working tree, not the index: hashing the index's blobs would re-read every dep out of git per commit.
export function hookScript(command: string, projectDir: string): string {
  return `#!/bin/sh
# dvcl pre-commit check, written by \`dvcl init --hooks\` (which rewrites this file; edit pre-commit instead).
# Warns when pipeline.lock is stale against the working tree; never blocks a commit: it always exits 0.
# Skip it for one commit with DVCL_SKIP_HOOK=1.
[ -n "$DVCL_SKIP_HOOK" ] && exit 0
cd ${shellQuote(projectDir)} 2>/dev/null || exit 0
set -- ${command}
if [ -x "$1" ] && [ -f "$2" ]; then :
elif command -v dvcl >/dev/null 2>&1; then set -- dvcl
else
  echo "dvcl: pre-commit check skipped: dvcl is not installed where \\\`dvcl init --hooks\\\` found it" >&2
  exit 0
fi
out=$(NO_COLOR=1 "$@" status --check 2>&1)
case $? in
  0) ;;
  1) { echo "dvcl: warning: pipeline.lock is not up to date with the working tree:"
       printf '%s\\n' "$out" | sed 's/^./  &/'
       echo "dvcl: run \\\`dvcl repro\\\`, then commit pipeline.lock and .manifest.json (the commit goes ahead)"; } >&2 ;;
  *) { echo "dvcl: warning: could not check pipeline.lock:"
       printf '%s\\n' "$out" | sed 's/^./  &/'; } >&2 ;;
esac
exit 0
`;
}

export interface HookResult { changes: string[]; warnings: string[] }

/** An existing `pre-commit` is never replaced: one guarded line goes after its shebang, once. */
export async function installHooks(opts: { root: string; command: string }): Promise<HookResult> {
  const changes: string[] = [];
  const warnings: string[] = [];
  const git = async (...args: string[]) => (await gitOk(args, { cwd: opts.root })).trim();
  const top = await git('rev-parse', '--show-toplevel');
  // --git-path honours core.hooksPath and linked worktrees.
  const hooksDir = path.resolve(opts.root, await git('rev-parse', '--git-path', 'hooks'));
  const shownDir = path.relative(opts.root, hooksDir).split(path.sep).join('/') || '.';
  const custom = await git('config', '--get', 'core.hooksPath').catch(() => '');
  if (custom) warnings.push(`core.hooksPath is set (${custom}): the hook goes there; if a hook manager writes those files, add \`dvcl status --check || true\` to its pre-commit instead`);
  fs.mkdirSync(hooksDir, { recursive: true });

  const projectDir = path.relative(fs.realpathSync(top), fs.realpathSync(opts.root)).split(path.sep).join('/') || '.';
  const ours = path.join(hooksDir, HOOK_FILE);
  const script = hookScript(opts.command, projectDir);
  if (!fs.existsSync(ours) || fs.readFileSync(ours, 'utf8') !== script) {
    fs.writeFileSync(ours, script);
    changes.push(`wrote ${shownDir}/${HOOK_FILE}`);
  }
  fs.chmodSync(ours, 0o755);

  const hook = path.join(hooksDir, 'pre-commit');
  if (!fs.existsSync(hook)) {
    fs.writeFileSync(hook, `#!/bin/sh\n${CHAIN_LINE}\n`, { mode: 0o755 });
    changes.push(`installed the pre-commit hook (${shownDir}/pre-commit): it warns when pipeline.lock is stale`);
    return { changes, warnings };
  }
  const text = fs.readFileSync(hook, 'utf8');
  if (text.includes(HOOK_FILE)) return { changes, warnings };
  const shebang = /^#!.*/.exec(text)?.[0];
  if (shebang && !/\b(sh|bash|dash|ksh|zsh)\b/.test(shebang)) {
    warnings.push(`${shownDir}/pre-commit is not a shell script (${shebang}): left as it is; make it run ${shownDir}/${HOOK_FILE} to get dvcl's warning`);
    return { changes, warnings };
  }
  const at = shebang ? text.indexOf('\n') + 1 || text.length : 0;
  const sep = shebang && at === text.length && !text.endsWith('\n') ? '\n' : '';
  fs.writeFileSync(hook, text.slice(0, at) + sep + CHAIN_LINE + '\n' + text.slice(at));
  changes.push(`added a call to dvcl's check at the top of the existing ${shownDir}/pre-commit (the rest is unchanged)`);
  if ((fs.statSync(hook).mode & 0o111) === 0) warnings.push(`${shownDir}/pre-commit is not executable, so git does not run it (nor dvcl's check): \`chmod +x\` it to enable both`);
  return { changes, warnings };
}
