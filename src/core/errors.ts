import { constants } from 'node:os';

const osSignals: Partial<Record<NodeJS.Signals, number>> = constants.signals;

export const EXIT = {
  ok: 0,
  failed: 1,
  config: 2,
  busy: 3,
  interrupted: 130, // SIGINT
  terminated: 143,  // SIGTERM
} as const;

/** As a shell reports it: 128 + the signal's number. */
export function signalExit(signal: NodeJS.Signals): number {
  return 128 + (osSignals[signal] ?? 2);
}

export type DvclErrorCode =
  | 'config'        // invalid .pipelinerc / params / usage
  | 'no_project'    // no .pipelinerc found
  | 'unknown_stage'
  | 'dep_missing'   // a dep that nothing produces
  | 'cycle'
  | 'busy'          // another run holds the run lock
  | 'corrupt'       // lock or manifest unreadable and unrecoverable
  | 'failed'        // a stage or item failed
  | 'interrupted'
  | 'io';

/** Both `exit` and `exitCode`: oclif reads `exit` for the process status and `exitCode` in --json mode. */
export class DvclError extends Error {
  readonly code: DvclErrorCode;
  readonly exit: number;
  readonly exitCode: number;
  readonly suggestions: string[];

  constructor(code: DvclErrorCode, message: string, opts: { exit?: number; suggestions?: string[] } = {}) {
    // Messages embed file names, keys and parsers' quotes of the text: one visible line whatever they hold.
    super(oneLine(message));
    this.name = 'DvclError';
    this.code = code;
    this.exit = opts.exit ?? defaultExit(code);
    this.exitCode = this.exit;
    this.suggestions = (opts.suggestions ?? []).map(oneLine);
  }
}

function defaultExit(code: DvclErrorCode): number {
  switch (code) {
    case 'failed': return EXIT.failed;
    case 'busy': return EXIT.busy;
    case 'interrupted': return EXIT.interrupted;
    case 'io': return EXIT.failed;
    default: return EXIT.config;
  }
}

export function configError(
  file: string, pos: { line: number; col: number } | null, keyPath: string, message: string, hint?: string,
): DvclError {
  const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
  return new DvclError('config', keyPath ? `${where}: ${keyPath}: ${message}` : `${where}: ${message}`, { suggestions: hint ? [hint] : [] });
}

const INVISIBLE = /[\u0000-\u001f\u007f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** Control characters, a BOM, zero-width and bidi controls (which could reorder the terminal) escaped as in JSON. */
export function oneLine(text: string): string {
  return text.replace(INVISIBLE, (c) => (JSON.stringify(c).length > 3 ? JSON.stringify(c).slice(1, -1) : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}
