// What the parts of the command scanner share: the refusal, a template's variable, the operators.
import { ITEM_VARS, TEMPLATE_RE, type ItemVar } from '../template.js';

export function envName(v: ItemVar): string {
  return `DVCL_${v.toUpperCase()}`;
}

export class TemplateRefused extends Error {
  constructor(message: string, readonly hint: string) {
    super(message);
  }
}

export const OPERATORS = ';&|()<>\n';

export function itemTemplateIn(text: string): ItemVar | null {
  for (const m of text.matchAll(TEMPLATE_RE)) {
    if ((ITEM_VARS as readonly string[]).includes(m[1])) return m[1] as ItemVar;
  }
  return null;
}
