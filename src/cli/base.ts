// cli/: rendering, the reporter, signals. This module: the base command, with its one error path.
import { Command, ux } from '@oclif/core';
import { DvclError, oneLine } from '../core/errors.js';
import { exactJson } from '../core/util/exact.js';
import { closest } from '../core/template.js';

/** One error path: a message and hints on stderr, JSON on stdout with --json, the documented exit code, a stack only with DEBUG. */
export abstract class DvclCommand extends Command {
  static override enableJsonFlag = true;

  /** oclif's JSON.stringify would throw on a big integer param (a BigInt) and write NaN as null. */
  override logJson(json: unknown): void {
    ux.stdout(exactJson(json));
  }

  protected note(msg: string): void {
    process.stderr.write(oneLine(msg) + '\n');
  }

  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    const expected = err instanceof DvclError;
    const parseError = !expected && err.oclif?.exit !== undefined && err.name !== 'ExitError';
    if (!expected && !parseError) {
      if (err.name === 'ExitError') throw err;
      if (process.env.DEBUG) process.stderr.write(`${err.stack}\n`);
    }
    const exit = expected ? err.exit : parseError ? 2 : 1;
    const suggestions = expected ? err.suggestions : parseError ? this.flagHint(err) : [];
    const message = oneLine(expected ? err.message : parseError ? err.message.replace(/\nSee more help with --help$/, '') : `internal error: ${err.message}${process.env.DEBUG ? '' : ' (set DEBUG=1 for the stack)'}`);
    if (this.jsonEnabled()) {
      this.logJson({ error: { code: expected ? err.code : parseError ? 'usage' : 'internal', message, suggestions }, exit });
    }
    process.stderr.write(`Error: ${message}\n`);
    for (const s of suggestions) process.stderr.write(`  hint: ${s}\n`);
    process.exitCode = exit;
    return undefined;
  }

  /** `--dry` → did you mean `--dry-run`? (oclif's parse error names the flags it does not know.) */
  private flagHint(err: Error & { flags?: string[] }): string[] {
    const known = Object.keys((this.constructor as typeof Command).flags ?? {}).map((f) => `--${f}`);
    const near = (f: string) => {
      const prefixed = known.filter((k) => k.startsWith(f));
      return prefixed.length === 1 ? prefixed[0] : closest(f, known);
    };
    const hints = (err.flags ?? []).map((f) => near(f.replace(/=.*/, ''))).filter((n): n is string => n !== undefined);
    return hints.length ? hints.map((h) => `did you mean \`${h}\`?`) : [`see \`${this.config.bin} ${this.id} --help\``];
  }
}
