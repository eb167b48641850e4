import { repro } from '../../src/core/services/repro.js';
import { status } from '../../src/core/services/status.js';
import { runExitCode } from '../../src/cli/run-repro.js';
import { exactJson } from '../../src/core/util/exact.js';
import type { ReproOptions } from '../../src/core/run/types.js';
import type { PipelineRepo, ReproJson, StatusJson } from './pipeline.js';

/** What `--json` would print, through the same serializer the CLI uses. */
const asJson = <T>(v: unknown): T => JSON.parse(exactJson(v)) as T;

/**
 * `repro` and `status` of a pipeline repo run through the library, in the test's own process:
 * the same results as the binary's `--json` and exit code, without a Node start-up per call.
 * For what the run decides; what only the binary shows (text, stderr, flags) stays end to end.
 */
export function inProcess(repo: PipelineRepo) {
  return {
    async repro(opts: Omit<ReproOptions, 'cwd'> = {}): Promise<{ code: number; json: ReproJson }> {
      const r = await repro({ cwd: repo.dir, ...opts });
      return { code: runExitCode(r), json: asJson<ReproJson>(r) };
    },
    async status(...targets: string[]): Promise<StatusJson> {
      return asJson<StatusJson>(await status({ cwd: repo.dir, targets, onWarning: () => {} }));
    },
    /** `status --check`'s exit code. */
    async check(): Promise<number> {
      return (await status({ cwd: repo.dir, onWarning: () => {} })).up_to_date ? 0 : 1;
    },
  };
}
