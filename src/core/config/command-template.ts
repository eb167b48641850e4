import { Rewriter } from './shell-rewriter.js';
import { TemplateRefused } from './shell-text.js';

export { envName, TemplateRefused } from './shell-text.js';

// `${item}` & co. never reach a per-item command as text: each becomes a quoted reference to a variable dvcl
// exports, so no value is parsed as code (`cp ${item} ${out}` → `cp "${DVCL_ITEM}" "${DVCL_OUT}"`). A script a
// second shell parses (`sh -c`, su, flock…, `eval`) is rewritten for that shell and passed single-quoted. Refused
// when the config is read: a template in single quotes (awk, sed, python… would read a name as code), in `$(( ))`,
// in a quoted here-document, or in an `ssh` command (the remote shell has no DVCL_ITEM).

export function rewriteCommand(cmd: string): string {
  return new Rewriter(cmd).script();
}

export function commandRefusal(cmd: string): TemplateRefused | null {
  try {
    rewriteCommand(cmd);
    return null;
  } catch (e) {
    if (e instanceof TemplateRefused) return e;
    throw e;
  }
}

