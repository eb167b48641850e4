import os from 'node:os';
import type { GitInfo } from '../git/git.js';
import { isoTime, type RunRecord } from './manifest.js';
import { VERSION } from '../version.js';

export function runRecord(argv: string[], git: GitInfo, started: Date): RunRecord {
  return {
    argv, dvcl: VERSION, started_at: isoTime(started), finished_at: null,
    git_branch: git.branch, git_commit: git.commit, git_dirty: git.dirty,
    host: os.hostname(), node: process.version, platform: `${process.platform}-${process.arch}`, user: git.user,
  };
}
