import { findRoot } from '../config/load.js';
import { DvclError } from '../errors.js';
import { catFiles, gitOk } from '../git/git.js';
import { diffEntry, same, type StageChange } from '../ledger/entry-diff.js';
import { cmp, LOCK_FILE, parseLock, serializeLock, type LockData, type LockEntry } from '../ledger/lock.js';

export { diffEntry, type EntryChange, type StageChange } from '../ledger/entry-diff.js';

export interface LogCommit { commit: string; author: string; date: string; subject: string; stages: StageChange[] }
export interface LogResult { stage: string | null; commits: LogCommit[] }

export interface LogOptions {
  cwd: string;
  stage?: string;
  limit?: number;
  onWarning?: (msg: string) => void;
}

const ZERO = /^0+$/;
const BATCH = 256;

interface RawCommit { commit: string; parents: string[]; author: string; date: string; subject: string; old: string[]; new: string }

// Two git processes per batch: `git log --raw` names the lock's blobs, `git cat-file --batch` reads them.
export async function stageLog(opts: LogOptions): Promise<LogResult> {
  const root = findRoot(opts.cwd);
  const git = (args: string[]) => gitOk(args, { cwd: root });
  let prefix: string;
  try {
    prefix = (await git(['rev-parse', '--show-prefix'])).trim();
  } catch {
    throw new DvclError('config', `dvcl log reads the history of ${LOCK_FILE} from git, and ${root} is not in a git repository`);
  }
  const file = prefix + LOCK_FILE;
  let out: string;
  try {
    out = await git(['log', '--format=%x1e%H%x00%P%x00%an <%ae>%x00%aI%x00%s', '--raw', '--root', '--no-abbrev', '--no-renames', '--', LOCK_FILE]);
  } catch {
    return { stage: opts.stage ?? null, commits: [] }; // no commit yet
  }
  const raw = parseLogOutput(out, file);
  const commits: LogCommit[] = [];
  const versions = new Map<string, Version | null>();
  const entries = new EntryCache();
  const limit = opts.limit ?? Infinity;
  // Small batches first: `-n 5` on a long history reads a few versions, not all of them.
  for (let i = 0, size = Math.min(BATCH, Math.max(8, 2 * limit)); i < raw.length && commits.length < limit; i += size, size = Math.min(size * 2, BATCH)) {
    const batch = raw.slice(i, i + size);
    const wanted = [...new Set(batch.flatMap((c) => [c.new, ...c.old]).filter((s) => !ZERO.test(s) && !versions.has(s)))];
    const texts = await catFiles(root, wanted);
    for (const spec of wanted) versions.set(spec, readVersion(texts.get(spec) ?? '', spec, opts.onWarning));
    for (const c of batch) {
      if (commits.length >= limit) break;
      const version = (spec: string) => (ZERO.test(spec) ? new Map() : versions.get(spec) ?? null);
      const now = version(c.new);
      const before = c.old.map(version);
      if (!now || before.some((b) => b === null)) continue;
      try {
        const stages = changedIn(before as Version[], now, opts.stage, entries);
        if (stages.length) commits.push({ commit: c.commit, author: c.author, date: c.date, subject: c.subject, stages });
      } catch (e) {
        opts.onWarning?.(`${LOCK_FILE} at ${c.commit.slice(0, 10)}: ${(e as Error).message}: skipped`);
      }
    }
  }
  return { stage: opts.stage ?? null, commits };
}

type Version = Map<string, string>;

function readVersion(text: string, spec: string, warn?: (m: string) => void): Version | null {
  try {
    return splitStages(text) ?? versionOf(parseLock(text, `${LOCK_FILE} at ${spec.slice(0, 10)}`));
  } catch (e) {
    warn?.(`${(e as Error).message}: skipped`);
    return null;
  }
}

const STAGES_HEADER = 'schema: 1\nstages:\n';

// Without parsing the YAML: slow per version, while most commits change one or two entries (BENCHMARKS.md).
export function splitStages(text: string): Version | null {
  if (text === '' || text === 'schema: 1\nstages: {}\n') return new Map();
  if (!text.startsWith(STAGES_HEADER)) return null;
  const v: Version = new Map();
  let name: string | null = null;
  let start = 0;
  const lines = text.slice(STAGES_HEADER.length).split('\n');
  if (lines.pop() !== '') return null;
  const close = (end: number) => { if (name !== null) v.set(name, lines.slice(start, end).join('\n')); };
  for (let i = 0; i < lines.length; i++) {
    const key = /^ {2}("?)([A-Za-z0-9_-]+)\1:$/.exec(lines[i]);
    if (key) {
      close(i);
      if (v.has(key[2])) return null;
      name = key[2];
      start = i;
    } else if (name === null || !lines[i].startsWith('    ')) return null;
  }
  close(lines.length);
  return v;
}

function versionOf(data: LockData): Version {
  return new Map(Object.keys(data.stages).map((n) => [n, splitStages(serializeLock({ schema: 1, stages: { [n]: data.stages[n] } }))!.get(n)!]));
}

class EntryCache {
  private readonly parsed = new Map<string, LockEntry>();
  entry(name: string, text: string | undefined): LockEntry | undefined {
    if (text === undefined) return undefined;
    let e = this.parsed.get(text);
    if (!e) {
      e = parseLock(`${STAGES_HEADER}${text}\n`).stages[name];
      this.parsed.set(text, e);
    }
    return e;
  }
}

/** A merge has no raw line: its versions are `<commit>:<file>` and `<parent>:<file>` for cat-file. */
export function parseLogOutput(out: string, file: string): RawCommit[] {
  const commits: RawCommit[] = [];
  for (const rec of out.split('\x1e')) {
    if (!rec.trim()) continue;
    const nl = rec.indexOf('\n');
    const [commit, parentList, author, date, subject] = (nl < 0 ? rec : rec.slice(0, nl)).split('\0');
    const parents = parentList ? parentList.split(' ') : [];
    const m = /^:\d+ \d+ ([0-9a-f]+) ([0-9a-f]+) [A-Z]\d*\t/m.exec(rec);
    const c = m
      ? { old: [m[1]], new: m[2] }
      : { old: parents.map((p) => `${p}:${file}`), new: `${commit}:${file}` };
    commits.push({ commit, parents, author, date, subject, ...c });
  }
  return commits;
}

/** For a merge, only entries that differ from every parent: one taken whole from a branch shows where it changed. */
function changedIn(before: Version[], now: Version, only: string | undefined, entries: EntryCache): StageChange[] {
  const parents = before.length ? before : [new Map<string, string>()];
  const names = only !== undefined ? [only] : [...new Set([...now.keys(), ...parents.flatMap((p) => [...p.keys()])])].sort(cmp);
  const out: StageChange[] = [];
  for (const name of names) {
    const cur = now.get(name);
    if (parents.some((p) => p.get(name) === cur)) continue;
    const curEntry = entries.entry(name, cur);
    if (parents.some((p) => same(entries.entry(name, p.get(name)), curEntry))) continue; // same entry, other layout
    const d = diffEntry(name, entries.entry(name, parents[0].get(name)), curEntry);
    if (d) out.push(d);
  }
  return out;
}

export function changedStages(before: LockData[], now: LockData, only?: string): StageChange[] {
  return changedIn(before.map(versionOf), versionOf(now), only, new EntryCache());
}

