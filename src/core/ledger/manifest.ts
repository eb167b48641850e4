// ledger/: what dvcl commits. This module owns `.manifest.json`, the per-item ledger, with its crash journal.
import { randomBytes } from 'node:crypto';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { DvclError, oneLine } from '../errors.js';
import { loadWithRecovery, shown, writeManifestFile } from './manifest-file.js';
import {
  dict, writeManifest, type ItemRecord, type ManifestData, type RunRecord, type StageRecord,
} from './manifest-format.js';
import { JournalWriter, readJournal, type JournalOp } from './manifest-journal.js';

export type { ItemRecord, ItemStatus, ManifestData, RunRecord, StageRecord } from './manifest-format.js';
export { parseManifest, serializeManifest } from './manifest-format.js';

/** Counts of a per-item stage's items. `given_up` items are also counted in `failed`. */
export interface ItemStats { total: number; success: number; failed: number; pending: number; given_up: number }

export interface ManifestLoadOptions {
  root: string;
  file?: string;
  journalDir?: string | null;
  onWarning?: (msg: string) => void;
  /** Write nothing: no save after recovery, no journal (for `status`, `--dry-run`). */
  readOnly?: boolean;
}

export const MANIFEST_FILE = '.manifest.json';
const DEFAULT_FILE = MANIFEST_FILE;

export function isoTime(d: Date = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** After {@link newRunId} every change is journaled, so a crash loses only the items in flight. */
export class Manifest {
  private journaling = false;
  private livePid: number | null = null;
  /** A save without changes writes nothing (no `.bak` rotation, no diff). */
  private dirty = false;
  /** Written with the run's first change only, so a run that changes nothing leaves no trace. */
  private deferred: { id: string; rec: RunRecord } | null = null;

  private constructor(
    readonly path: string,
    readonly data: ManifestData,
    private readonly journal: JournalWriter | null,
    private readonly readOnly: boolean,
  ) {}

  /** Restores a corrupt file from `.bak`, folds in a crashed run's journal. @throws DvclError `corrupt` */
  static load(opts: ManifestLoadOptions): Manifest {
    const root = resolve(opts.root);
    const file = opts.file ?? DEFAULT_FILE;
    const path = resolve(root, file);
    const warn = opts.onWarning ?? ((msg: string) => process.stderr.write(`dvcl: warning: ${oneLine(msg)}\n`));
    const readOnly = opts.readOnly ?? false;
    const journalDir = opts.journalDir === undefined ? join(root, '.dvcl') : opts.journalDir;
    // One journal per manifest file, so a library user's second manifest cannot replay into ours.
    const journalName = file === DEFAULT_FILE ? 'journal.jsonl' : `journal-${basename(file)}.jsonl`;
    const journal = journalDir === null ? null : new JournalWriter(join(resolve(root, journalDir), journalName));

    const { data, restored } = loadWithRecovery(path, warn, readOnly);
    const m = new Manifest(path, data, journal, readOnly);
    const replayed = m.foldJournal(warn);
    if (!readOnly && restored) m.write(false); // main is corrupt: rotating it into .bak would destroy the good backup
    else if (!readOnly && replayed) m.write(true);
    return m;
  }

  get liveRunPid(): number | null {
    return this.livePid;
  }

  stage(name: string): StageRecord | undefined {
    return this.data.stages[name];
  }

  /** `20261122T101500Z-a1b2c3`; from now on every change is journaled before it returns. */
  newRunId(now: Date = new Date()): string {
    if (this.liveRunPid !== null) {
      throw new DvclError('busy', `another dvcl run (pid ${this.liveRunPid}) is writing ${this.journal!.file}`);
    }
    this.journaling = this.journal !== null && !this.readOnly;
    return `${isoTime(now).replace(/[-:]/g, '')}-${randomBytes(3).toString('hex')}`;
  }

  recordRun(id: string, rec: RunRecord): void {
    if (this.deferred?.id === id) this.deferred = { id, rec: { ...rec } };
    else this.apply({ op: 'run', id, rec: { ...rec } });
  }

  /** Records a run with its first change (or {@link commitRun}): a no-op repro must not dirty the git tree. */
  deferRun(id: string, rec: RunRecord): void {
    this.deferred = { id, rec: { ...rec } };
  }

  commitRun(): void {
    const d = this.deferred;
    if (!d) return;
    this.deferred = null;
    this.apply({ op: 'run', id: d.id, rec: d.rec });
  }

  recordItem(stage: string, item: string, rec: ItemRecord): void {
    checkRelative(item, 'item');
    if (rec.output !== undefined) checkRelative(rec.output, 'output');
    this.apply({ op: 'item', stage, item, rec: { ...rec } });
  }

  /** Attempts continue the count of failures of the same input version. */
  recordSuccess(stage: string, item: string, r: { hash: string; stage_hash?: string; output?: string; output_hash?: string; output_nfiles?: number; run: string; now?: Date }): ItemRecord {
    const prev = this.data.stages[stage]?.items?.[item];
    // The same success again (`--force`, a deleted output made anew) keeps the record, run and time
    // included, so a re-run that changed nothing changes no file.
    if (prev?.status === 'success' && prev.hash === r.hash && prev.stage_hash === r.stage_hash
      && prev.output === r.output && prev.output_hash === r.output_hash && prev.output_nfiles === r.output_nfiles) return prev;
    const rec: ItemRecord = {
      status: 'success', hash: r.hash, stage_hash: r.stage_hash, attempts: this.nextAttempt(stage, item, r),
      output: r.output, output_hash: r.output_hash, output_nfiles: r.output_nfiles, last_processed: isoTime(r.now), run: r.run,
    };
    this.recordItem(stage, item, stripUndefined(rec));
    return rec;
  }

  recordFailure(stage: string, item: string, r: { hash: string; stage_hash?: string; output?: string; reason: string; run: string; now?: Date }): ItemRecord {
    const rec: ItemRecord = {
      status: 'failed', hash: r.hash, stage_hash: r.stage_hash, attempts: this.nextAttempt(stage, item, r),
      output: r.output, last_attempt: isoTime(r.now), reason: r.reason, run: r.run,
      last_processed: this.data.stages[stage]?.items?.[item]?.last_processed, // still the time of the last success
    };
    this.recordItem(stage, item, stripUndefined(rec));
    return rec;
  }

  recordStage(stage: string, rec: Omit<StageRecord, 'items'>): void {
    const { items: _ignored, ...fields } = rec as StageRecord;
    this.apply({ op: 'stage', stage, rec: fields });
  }

  removeItems(stage: string, items: string[]): void {
    if (items.length > 0) this.apply({ op: 'remove_items', stage, items: [...items] });
  }

  removeStage(stage: string): void {
    if (this.data.stages[stage]) this.apply({ op: 'remove_stage', stage });
  }

  failedItems(stage: string): string[] {
    const items = this.data.stages[stage]?.items ?? {};
    return Object.keys(items).filter((k) => items[k].status === 'failed').sort();
  }

  /** Drops run records nothing refers to (nor `keep`, e.g. the lock's); returns their ids, sorted. */
  pruneRuns(keep: Iterable<string> = []): string[] {
    const used = new Set<string>(keep);
    for (const s of Object.values(this.data.stages)) {
      if (s.run) used.add(s.run);
      for (const i of Object.values(s.items ?? {})) used.add(i.run);
    }
    const ids = Object.keys(this.data.runs).filter((id) => !used.has(id)).sort();
    if (ids.length > 0) this.apply({ op: 'remove_runs', ids });
    return ids;
  }

  /** Without `present`, the recorded items; else the present ones, unrecorded (or, given hashes, changed) ones pending. */
  statistics(stage: string, present?: Iterable<string> | Map<string, { hash: string; stage_hash?: string }>, maxAttempts = 0): ItemStats {
    const items = this.data.stages[stage]?.items ?? {};
    const st: ItemStats = { total: 0, success: 0, failed: 0, pending: 0, given_up: 0 };
    const tally = (rec: ItemRecord | undefined): void => {
      st.total++;
      if (!rec) st.pending++;
      else if (rec.status === 'success') st.success++;
      else {
        st.failed++;
        if (givenUp(rec, maxAttempts)) st.given_up++;
      }
    };
    if (present === undefined) for (const rec of Object.values(items)) tally(rec);
    else if (present instanceof Map) {
      for (const [item, p] of present) {
        const rec = items[item];
        const current = rec && rec.hash === p.hash && (p.stage_hash === undefined || rec.stage_hash === p.stage_hash);
        tally(current ? rec : undefined);
      }
    } else for (const item of present) tally(items[item]);
    return st;
  }

  /** Via `.bak`, a temporary file, fsync and rename; then drops the journal. @throws DvclError `io`, old file intact. */
  save(): void {
    if (this.readOnly) throw new Error('Manifest was loaded read-only');
    if (!this.dirty) {
      if (this.livePid === null) this.journal?.discard();
      return;
    }
    this.write(true);
  }

  close(): void {
    this.journal?.close();
  }

  private write(keepBackup: boolean): void {
    writeManifestFile(this.path, (emit) => writeManifest(this.data, emit), keepBackup);
    this.dirty = false;
    if (this.livePid === null) this.journal?.discard();
  }

  private apply(op: JournalOp): void {
    if (this.deferred) this.commitRun(); // the run first: the change refers to it
    if (this.journaling) this.journal!.append(op); // first: a failed append leaves memory unchanged
    applyOp(this.data, op);
    this.dirty = true;
  }

  private foldJournal(warn: (msg: string) => void): boolean {
    if (!this.journal) return false;
    const j = readJournal(this.journal.file);
    if (!j) return false;
    for (const op of j.ops) applyOp(this.data, op);
    if (j.skipped > 0) warn(`ignored ${j.skipped} unreadable line(s) in ${shown(this.journal.file)}`);
    if (j.livePid !== null) {
      // A run in progress owns it: show its results so far, but leave the file to its owner.
      this.livePid = j.livePid;
      return false;
    }
    if (j.ops.length === 0) {
      if (!this.readOnly) this.journal.discard();
      return false;
    }
    warn(`recovered ${j.ops.length} change(s) of an interrupted run from ${shown(this.journal.file)}`);
    return true;
  }

  private nextAttempt(stage: string, item: string, r: { hash: string; stage_hash?: string }): number {
    const prev = this.data.stages[stage]?.items?.[item];
    const sameVersion = prev && prev.hash === r.hash && prev.stage_hash === r.stage_hash;
    return sameVersion && prev.status === 'failed' ? prev.attempts + 1 : 1;
  }
}

/** The one place the data changes: live calls and journal replay go through it alike. */
function applyOp(d: ManifestData, op: JournalOp): void {
  switch (op.op) {
    case 'item': {
      // Placeholder status: recordStage sets the real one at the stage's end; until then (or after
      // a crash) its items tell what is pending.
      const s = (d.stages[op.stage] ??= { status: 'success' });
      (s.items ??= dict())[op.item] = op.rec;
      break;
    }
    case 'stage': {
      const items = d.stages[op.stage]?.items;
      d.stages[op.stage] = items ? { ...op.rec, items } : { ...op.rec };
      break;
    }
    case 'run': d.runs[op.id] = op.rec; break;
    case 'remove_items': {
      const items = d.stages[op.stage]?.items;
      if (items) for (const i of op.items) delete items[i];
      break;
    }
    case 'remove_stage': delete d.stages[op.stage]; break;
    case 'remove_runs': for (const id of op.ids) delete d.runs[id]; break;
  }
}

function checkRelative(p: string, what: string): void {
  if (p === '' || isAbsolute(p) || /^[A-Za-z]:|^\\/.test(p) || p.split(/[\\/]/).includes('..')) {
    throw new DvclError('config', `${what} path must be relative to the project root: ${JSON.stringify(p)}`);
  }
}

/** Out of attempts (maxAttempts 0 or less: never); retried only with a new version. */
export function givenUp(rec: ItemRecord, maxAttempts: number): boolean {
  return rec.status === 'failed' && maxAttempts > 0 && rec.attempts >= maxAttempts;
}

function stripUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}
