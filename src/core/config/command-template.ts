import { Rewriter, TemplateRefused } from './shell-rewriter.js';

export { envName, TemplateRefused } from './shell-rewriter.js';

/*
 * How `${item}` & co. reach a per-item command: never as text. Each template is rewritten into a
 * reference to an environment variable that dvcl exports for the item (`${item}` → DVCL_ITEM), so
 * no value is ever parsed by a shell as code, however the command nests quotes, `$(…)` or
 * backquotes. The reference is quoted for where it stands, so it expands to exactly one word:
 *
 *   cp ${item} ${out}             → cp "${DVCL_ITEM}" "${DVCL_OUT}"
 *   echo "$(cat "${item}")"       → echo "$(cat "${DVCL_ITEM}")"
 *   sh -c "cat ${item} > ${out}"  → sh -c 'cat "${DVCL_ITEM}" > "${DVCL_OUT}"'
 *
 * The one way left for a value to become code is an outer shell expanding it into text that a
 * second shell then parses: the script of `sh -c` (bash, dash, zsh… su, flock, script, runuser),
 * the arguments of `eval`, `watch` and `parallel`. Such a script is taken apart, rewritten for the
 * shell that reads it, and passed in single quotes, so the inner shell expands the reference.
 * What cannot be made safe is refused when the config is read: a template inside single quotes for
 * another program (awk, sed, python… would read a file name as code), in `$(( ))` (arithmetic
 * evaluates it), in a quoted here-document, or anywhere in an `ssh` command (the remote shell has no
 * DVCL_ITEM).
 */

/** The command as the shell will run it, with every template a quoted variable reference. */
export function rewriteCommand(cmd: string): string {
  return new Rewriter(cmd).script();
}

/** Why `cmd` cannot be run safely, or null. */
export function commandRefusal(cmd: string): TemplateRefused | null {
  try {
    rewriteCommand(cmd);
    return null;
  } catch (e) {
    if (e instanceof TemplateRefused) return e;
    throw e;
  }
}

