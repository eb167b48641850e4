import fs from 'node:fs';
import { syncDir } from '../util/atomic-write.js';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { pidAlive } from '../util/process.js';
import { DvclError } from '../errors.js';
import {
  itemRecord, runRecord, stageRecord, ShapeError,
  type ItemRecord, type RunRecord, type StageRecord,
} from './manifest-format.js';

export type JournalOp =
  | { op: 'item'; stage: string; item: string; rec: ItemRecord }
  | { op: 'stage'; stage: string; rec: Omit<StageRecord, 'items'> }
  | { op: 'run'; id: string; rec: RunRecord }
  | { op: 'remove_items'; stage: string; items: string[] }
  | { op: 'remove_stage'; stage: string }
  | { op: 'remove_runs'; ids: string[] };

/** First line of a journal: who writes it, so a reader can tell a crashed run from a live one. */
interface JournalHeader { op: 'open'; pid: number; host: string; started_at: string }

const SYNC_INTERVAL_MS = 100;

// One write() per line survives kill -9 (page cache); fsync only guards against power loss, so it is
// batched per SYNC_INTERVAL_MS: a power cut loses one interval.
export class JournalWriter {
  private fd: number | null = null;
  private dirty = false;
  private lastSync = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerError: unknown = null;
  /** Where the last whole line ends: a write cut short is cut back to it. */
  private end = 0;
  /** The file may end in part of a line: the next line starts with a newline of its own. */
  private torn = false;

  constructor(readonly file: string) {}

  append(op: JournalOp): void {
    this.rethrow();
    if (this.fd === null) this.open();
    this.write(JSON.stringify(op) + '\n');
    this.dirty = true;
    const since = Date.now() - this.lastSync;
    if (since >= SYNC_INTERVAL_MS) {
      this.sync();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        try { this.sync(); } catch (e) { this.timerError = e; }
      }, SYNC_INTERVAL_MS - since);
      this.timer.unref(); // a pending group commit must not keep the process alive
    }
  }

  sync(): void {
    this.clearTimer();
    if (this.fd !== null && this.dirty) {
      try { fs.fdatasyncSync(this.fd); } catch (e) { throw this.ioError(e); }
      this.dirty = false;
    }
    this.lastSync = Date.now();
  }

  close(): void {
    this.sync();
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
    this.rethrow();
  }

  discard(): void {
    this.clearTimer();
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
    this.dirty = false;
    this.timerError = null;
    try {
      fs.rmSync(this.file, { force: true });
    } catch {
      // Harmless: replaying ops that are already in the manifest changes nothing.
    }
  }

  private open(): void {
    try {
      fs.mkdirSync(dirname(this.file), { recursive: true });
      this.fd = fs.openSync(this.file, 'a+'); // read too: see endsWithNewline
    } catch (e) {
      throw this.ioError(e);
    }
    syncDir(dirname(this.file)); // the new file's directory entry must survive a power cut too
    // A journal left ending mid-line (a short write, then a crash) must not swallow ours.
    this.end = fs.fstatSync(this.fd).size;
    this.torn = this.end > 0 && !endsWithNewline(this.fd, this.end);
    const header: JournalHeader = { op: 'open', pid: process.pid, host: hostname(), started_at: new Date().toISOString() };
    this.write(JSON.stringify(header) + '\n');
  }

  private write(line: string): void {
    const buf = Buffer.from(this.torn ? `\n${line}` : line);
    try {
      for (let off = 0; off < buf.length;) off += fs.writeSync(this.fd!, buf, off);
    } catch (e) {
      this.cutBack();
      throw this.ioError(e);
    }
    if (this.torn) this.end = fs.fstatSync(this.fd!).size; // with whatever could not be cut
    else this.end += buf.length;
    this.torn = false;
  }

  /** Removes the part line a failed write left (a full disk), which the next record would join (issue 11). */
  private cutBack(): void {
    try {
      fs.ftruncateSync(this.fd!, this.end);
    } catch {
      this.torn = true;
    }
  }

  private rethrow(): void {
    const e = this.timerError;
    this.timerError = null;
    if (e) throw e;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private ioError(e: unknown): DvclError {
    return new DvclError('io', `cannot write the journal ${this.file}: ${(e as Error).message}`);
  }
}

function endsWithNewline(fd: number, size: number): boolean {
  const last = Buffer.alloc(1);
  try {
    return fs.readSync(fd, last, 0, 1, size - 1) === 1 && last[0] === 0x0a;
  } catch {
    return false; // unreadable: a newline too many costs nothing (readJournal skips blank lines)
  }
}

export interface JournalContents {
  ops: JournalOp[];
  livePid: number | null;
  skipped: number;
}

/** Null when there is none. A last line without newline is a write cut short by a crash: its item runs again. */
export function readJournal(file: string): JournalContents | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DvclError('io', `cannot read the journal ${file}: ${(e as Error).message}`);
  }
  const lines = text.split('\n');
  lines.pop(); // '' after a final newline, or a torn write
  const ops: JournalOp[] = [];
  let header: JournalHeader | null = null;
  let skipped = 0;
  for (const line of lines) {
    if (line.trim() === '') continue;
    try {
      const v = JSON.parse(line) as { op?: unknown };
      if (v.op === 'open') header = v as JournalHeader;
      else ops.push(journalOp(v));
    } catch {
      skipped++;
    }
  }
  return { ops, skipped, livePid: header && isLive(header) ? header.pid : null };
}

function journalOp(v: unknown): JournalOp {
  const o = v as Record<string, unknown>;
  const str = (x: unknown): string => {
    if (typeof x !== 'string') throw new ShapeError('expected a string');
    return x;
  };
  const strs = (x: unknown): string[] => {
    if (!Array.isArray(x)) throw new ShapeError('expected a list');
    return x.map(str);
  };
  switch (o.op) {
    case 'item': return { op: 'item', stage: str(o.stage), item: str(o.item), rec: itemRecord(o.rec, 'rec') };
    case 'stage': return { op: 'stage', stage: str(o.stage), rec: stageRecord(o.rec, 'rec', false) };
    case 'run': return { op: 'run', id: str(o.id), rec: runRecord(o.rec, 'rec') };
    case 'remove_items': return { op: 'remove_items', stage: str(o.stage), items: strs(o.items) };
    case 'remove_stage': return { op: 'remove_stage', stage: str(o.stage) };
    case 'remove_runs': return { op: 'remove_runs', ids: strs(o.ids) };
    default: throw new ShapeError(`unknown op ${JSON.stringify(o.op)}`);
  }
}

function isLive(h: JournalHeader): boolean {
  return h.host === hostname() && h.pid !== process.pid && Number.isInteger(h.pid) && pidAlive(h.pid);
}
