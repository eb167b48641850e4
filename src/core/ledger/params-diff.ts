// ledger/: the params recorded in two versions of pipeline.lock, compared per param (file and key).
import { canonicalText } from '../util/exact.js';
import { cmp, type LockData } from './lock.js';

/** `old`/`new` are null where the param is not recorded (`added`, `removed`); `stages` that track it, on either side. */
export interface ParamDiff {
  file: string;
  key: string;
  change: 'added' | 'removed' | 'modified' | 'unchanged';
  old: unknown;
  new: unknown;
  stages: string[];
}

interface Recorded { value: unknown; stages: string[] }
type Side = Map<string, Map<string, Recorded>>; // `file\0key` → canonical value → value and stages

/**
 * A param tracked by several stages is one row while each side records one value for it; when stages
 * disagree on a side (one of them not re-run since), one row per stage group with the same old and new.
 */
export function diffParams(a: LockData | null, b: LockData | null, opts: { all?: boolean } = {}): ParamDiff[] {
  const sa = recorded(a);
  const sb = recorded(b);
  const rows: ParamDiff[] = [];
  for (const id of [...new Set([...sa.keys(), ...sb.keys()])]) {
    const [file, key] = id.split('\0');
    const va = sa.get(id);
    const vb = sb.get(id);
    if ((va?.size ?? 0) <= 1 && (vb?.size ?? 0) <= 1) {
      const ra = va && [...va.values()][0];
      const rb = vb && [...vb.values()][0];
      rows.push(row(file, key, ra, rb, union(ra?.stages ?? [], rb?.stages ?? [])));
      continue;
    }
    const byStage = (side: Map<string, Recorded> | undefined) => {
      const m = new Map<string, Recorded>();
      for (const r of side?.values() ?? []) for (const s of r.stages) m.set(s, r);
      return m;
    };
    const pa = byStage(va);
    const pb = byStage(vb);
    const groups = new Map<string, { ra?: Recorded; rb?: Recorded; stages: string[] }>();
    for (const s of union([...pa.keys()], [...pb.keys()])) {
      const ra = pa.get(s);
      const rb = pb.get(s);
      const g = `${ra ? canonicalText(ra.value) : '-'}\0${rb ? canonicalText(rb.value) : '-'}`;
      const group = groups.get(g) ?? { ra, rb, stages: [] };
      group.stages.push(s);
      groups.set(g, group);
    }
    for (const g of groups.values()) rows.push(row(file, key, g.ra, g.rb, g.stages));
  }
  rows.sort((x, y) => cmp(x.file, y.file) || cmp(x.key, y.key) || cmp(x.stages.join(','), y.stages.join(',')));
  return opts.all ? rows : rows.filter((r) => r.change !== 'unchanged');
}

function row(file: string, key: string, ra: Recorded | undefined, rb: Recorded | undefined, stages: string[]): ParamDiff {
  const change = !ra ? 'added' : !rb ? 'removed' : canonicalText(ra.value) === canonicalText(rb.value) ? 'unchanged' : 'modified';
  return { file, key, change, old: ra ? ra.value : null, new: rb ? rb.value : null, stages };
}

function recorded(lock: LockData | null): Side {
  const side: Side = new Map();
  for (const [stage, entry] of Object.entries(lock?.stages ?? {})) {
    for (const [file, values] of Object.entries(entry.params ?? {})) {
      for (const [key, value] of Object.entries(values)) {
        const id = `${file}\0${key}`;
        const byValue = side.get(id) ?? new Map<string, Recorded>();
        const text = canonicalText(value) ?? 'undefined';
        const r = byValue.get(text) ?? { value, stages: [] };
        r.stages.push(stage);
        byValue.set(text, r);
        side.set(id, byValue);
      }
    }
  }
  return side;
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])].sort(cmp);
}
