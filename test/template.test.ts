import { describe, expect, it } from 'vitest';
import { expand, itemVars, shellQuote } from '../src/core/template.js';

describe('item variables', () => {
  it('substitutes paths unquoted in out templates', () => {
    expect(itemVars('data/raw/a b.html', 'out/${dir}/${stem}.json')).toEqual({ item: 'data/raw/a b.html', name: 'a b.html', stem: 'a b', dir: 'data/raw', out: 'out/data/raw/a b.json' });
    expect(expand('o/${name}.${nope}', { name: 'x' })).toBe('o/x.${nope}');
    expect(shellQuote('-rf')).toBe("'-rf'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
  });
});
