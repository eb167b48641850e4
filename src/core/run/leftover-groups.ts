import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pidAlive } from '../util/process.js';

// After a `kill -9` of dvcl its process groups run on: a writing run notes each in `.dvcl/groups/<pid>` (with the
// leader's start time, so a reused pid is never taken for it); the next run, under the run lock, stops those of dead runs.

const PROC = '/proc';

export class GroupNotes {
  private file: string | null = null;

  constructor(stateDir: string) {
    if (!fs.existsSync(path.join(PROC, 'self', 'stat'))) return;
    const dir = path.join(stateDir, 'groups');
    try {
      fs.mkdirSync(dir, { recursive: true });
      this.file = path.join(dir, String(process.pid));
      fs.writeFileSync(this.file, '');
    } catch {
      this.file = null; // best effort: a state folder that cannot be written only loses this safety net
    }
  }

  private readonly noted = new Set<number>();

  /** Once per group: a launcher's (launcher.ts) serves many commands. */
  note(pid: number | undefined): void {
    if (!this.file || !pid || this.noted.has(pid)) return;
    this.noted.add(pid);
    const start = startTime(pid);
    if (start === null) return; // already gone
    try {
      fs.appendFileSync(this.file, `${pid} ${start}\n`);
    } catch { /* best effort, as above */ }
  }

  close(): void {
    if (this.file) fs.rmSync(this.file, { force: true });
    this.file = null;
  }
}

function procStat(pid: number): string[] | null {
  let stat: string;
  try {
    stat = fs.readFileSync(path.join(PROC, String(pid), 'stat'), 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

function startTime(pid: number): string | null {
  return procStat(pid)?.[19] ?? null;
}

export async function stopLeftoverGroups(stateDir: string): Promise<{ pid: number; groups: number }[]> {
  const dir = path.join(stateDir, 'groups');
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const stopped: { pid: number; groups: number }[] = [];
  for (const name of names) {
    const owner = Number(name);
    if (!/^\d+$/.test(name) || owner === process.pid || pidAlive(owner)) continue;
    const f = path.join(dir, name);
    let lines: string[] = [];
    try {
      lines = fs.readFileSync(f, 'utf8').split('\n').filter(Boolean);
    } catch { /* unreadable: nothing to stop */ }
    const groups = lines
      .map((l) => l.split(' '))
      .filter(([pid, start]) => /^\d+$/.test(pid) && startTime(Number(pid)) === start)
      .map(([pid]) => Number(pid));
    if (groups.length) {
      for (const g of groups) signalGroup(g, 'SIGTERM');
      for (let waited = 0; waited < 1000 && groups.some(running); waited += 50) await sleep(50);
      for (const g of groups) signalGroup(g, 'SIGKILL');
      stopped.push({ pid: owner, groups: groups.length });
    }
    fs.rmSync(f, { force: true });
  }
  return stopped;
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch { /* gone */ }
}

/** Not a zombie: an orphan's parent may be slow to reap it. */
function running(pid: number): boolean {
  const state = procStat(pid)?.[0];
  return state !== undefined && state !== 'Z';
}
