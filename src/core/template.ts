import path from 'node:path';

export const ITEM_VARS = ['item', 'out', 'stem', 'name', 'dir'] as const;
export type ItemVar = (typeof ITEM_VARS)[number];
export type ItemVars = Record<ItemVar, string>;

/** `${lowercase}` is the template namespace (`${UPPER}`, `$name` are the shell's), so a typo such as `${itme}` is an error. */
export const TEMPLATE_RE = /\$\{([a-z_][a-z0-9_]*)\}/g;

export function templateNames(s: string): string[] {
  return [...s.matchAll(TEMPLATE_RE)].map((m) => m[1]);
}

export function shellQuote(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) && !s.startsWith('-')) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function expand(s: string, vars: Partial<ItemVars>): string {
  return s.replace(TEMPLATE_RE, (whole, name: string) => (vars as Record<string, string | undefined>)[name] ?? whole);
}

/** `data/raw/a b.html` → stem `a b`, name `a b.html`, dir `data/raw`. */
export function itemVars(item: string, outTemplate: string): ItemVars {
  const name = path.posix.basename(item);
  const ext = path.posix.extname(name);
  const base = { item, name, stem: ext ? name.slice(0, -ext.length) : name, dir: path.posix.dirname(item) };
  const out = path.posix.normalize(expand(outTemplate, base));
  return { ...base, out };
}

/** `itemVars(item, outTemplate).out`, prepared once per stage: no variables object nor regex replacement per item. */
export function outputOf(outTemplate: string): (item: string) => string {
  // Literal text and variable names alternate: [lit, name, lit, name, ..., lit].
  const parts = outTemplate.split(/\$\{([a-z_][a-z0-9_]*)\}/);
  for (let i = 1; i < parts.length; i += 2) {
    if (parts[i] !== 'item' && parts[i] !== 'name' && parts[i] !== 'stem' && parts[i] !== 'dir') return (item) => itemVars(item, outTemplate).out;
  }
  return (item) => {
    let name: string | undefined;
    let out = parts[0];
    for (let i = 1; i < parts.length; i += 2) {
      const v = parts[i];
      if (v === 'item') out += item;
      else if (v === 'dir') out += path.posix.dirname(item);
      else {
        name ??= path.posix.basename(item);
        if (v === 'name') out += name;
        else {
          const ext = path.posix.extname(name);
          out += ext ? name.slice(0, -ext.length) : name;
        }
      }
      out += parts[i + 1];
    }
    return path.posix.normalize(out);
  };
}

export function templateBase(tpl: string): string {
  const i = tpl.indexOf('${');
  const lit = i < 0 ? tpl : tpl.slice(0, i);
  const slash = lit.lastIndexOf('/');
  return slash < 0 ? '.' : lit.slice(0, slash);
}

export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) { bestD = d; best = c; }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}
