// ledger/: one stage's lock entry against another, as data: what `log` shows per commit and `diff` per revision.
import { sameValue } from '../util/exact.js';
import { cmp, type LockEntry, type LockGit, type LockPath } from './lock.js';

export type EntryChange =
  | { code: 'cmd_changed'; old: string | string[] | null; new: string | string[] | null }
  | { code: 'dep_changed'; path: string; old: string | null; new: string | null }
  | { code: 'param_changed'; file: string; key: string; old: unknown; new: unknown }
  | { code: 'out_changed'; path: string; old: string | null; new: string | null }
  | { code: 'items_changed'; old: { count: number; hash: string } | null; new: { count: number; hash: string } | null };

/** `rerun`: a new run with the same cmd, deps, params and outs (e.g. `repro --force`). */
export interface StageChange {
  name: string;
  change: 'added' | 'modified' | 'removed' | 'rerun';
  run: string | null;
  git: LockGit | null;
  changes: EntryChange[];
}

export function same(a: unknown, b: unknown): boolean {
  return a === b || (a !== undefined && b !== undefined && sameValue(a, b));
}

export function diffEntry(name: string, old: LockEntry | undefined, cur: LockEntry | undefined): StageChange | null {
  if (same(old, cur)) return null;
  const entry = (cur ?? old)!;
  const shape = (change: StageChange['change'], changes: EntryChange[]): StageChange => ({ name, change, run: entry.run ?? null, git: entry.git ?? null, changes });
  if (!cur) return shape('removed', []);
  const changes: EntryChange[] = [];
  if (!same(old?.cmd, cur.cmd)) changes.push({ code: 'cmd_changed', old: old?.cmd ?? null, new: cur.cmd });
  changes.push(...pathChanges('dep_changed', old?.deps ?? [], cur.deps));
  const files = [...new Set([...Object.keys(old?.params ?? {}), ...Object.keys(cur.params)])].sort(cmp);
  for (const f of files) {
    const a = old?.params[f] ?? {};
    const b = cur.params[f] ?? {};
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort(cmp)) {
      if (!same(a[key], b[key])) changes.push({ code: 'param_changed', file: f, key, old: a[key] ?? null, new: b[key] ?? null });
    }
  }
  changes.push(...pathChanges('out_changed', old?.outs ?? [], cur.outs));
  if (!same(old?.items, cur.items)) changes.push({ code: 'items_changed', old: old?.items ?? null, new: cur.items ?? null });
  return shape(!old ? 'added' : changes.length ? 'modified' : 'rerun', changes);
}

function pathChanges<C extends 'dep_changed' | 'out_changed'>(code: C, old: LockPath[], cur: LockPath[]): { code: C; path: string; old: string | null; new: string | null }[] {
  const a = new Map(old.map((p) => [p.path, p.hash]));
  const b = new Map(cur.map((p) => [p.path, p.hash]));
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort(cmp);
  return paths.filter((p) => a.get(p) !== b.get(p)).map((p) => ({ code, path: p, old: a.get(p) ?? null, new: b.get(p) ?? null }));
}
