import { templateBase } from '../template.js';

// Outs are removed before their stage runs, so `outs: [.git]` removed the repository; compared without case (macOS, Windows).
const ROOT_NAMES: [RegExp, string][] = [
  [/^\.dvcl$/, "dvcl's state folder"],
  [/^pipeline\.lock$/, "dvcl's lock file"],
  [/^pipeline\.lock\./, "a temporary file of dvcl's lock file"],
  [/^\.manifest\.json$/, "dvcl's manifest"],
  [/^\.manifest\.json\./, "a backup or temporary file of dvcl's manifest"],
  [/^\.pipelinerc$/, "the pipeline's configuration"],
  [/^\.pipelinerc\.local$/, "this machine's pipeline settings"],
];

/** Most paths are not reserved, and 100,000s of item outputs are checked. */
const MAYBE = /(?:^|\/)\.git(?:\/|$)|^(?:\.dvcl|pipeline\.lock|\.manifest\.json|\.pipelinerc)/i;

export const RESERVED_HINT = "a stage's outs are removed before it runs: declare only what the command writes";

/** Why a normalised path can be no out, or null; a `.git` at any depth counts (a nested repository keeps its history there). */
export function reservedOut(p: string): string | null {
  if (p === '.') return 'is the project root';
  if (!MAYBE.test(p)) return null;
  const segs = p.split('/');
  const lower = segs.map((s) => s.toLowerCase());
  const g = lower.indexOf('.git');
  if (g >= 0) {
    const what = g === 0 ? "git's repository" : 'a nested git repository';
    return g === segs.length - 1 ? `is ${what}` : `lies in ${segs.slice(0, g + 1).join('/')}, ${what}`;
  }
  const name = ROOT_NAMES.find(([re]) => re.test(lower[0]));
  if (!name) return null;
  return segs.length === 1 ? `is ${name[1]}` : `lies in ${segs[0]}, ${name[1]}`;
}

/** Expansions are checked per item as well (status.ts), as is where the output's folder really is (outs.ts). */
export function reservedTemplate(tpl: string): string | null {
  const base = templateBase(tpl);
  const why = base === '.' ? null : reservedOut(base);
  if (why) return `would write into ${base}, which ${why}`;
  const segs = tpl.split('/');
  const g = segs.findIndex((s) => s.toLowerCase() === '.git');
  return g < 0 ? null : `would write into ${segs.slice(0, g + 1).join('/')}, a git repository's own folder`;
}
