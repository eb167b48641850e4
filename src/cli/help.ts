import { Help } from '@oclif/core';

/** The first things to try, shown by `dvcl --help` (oclif's root help has no examples of its own). */
const ROOT_EXAMPLES = [
  ['init', 'set up dvcl in a git repository'],
  ['dag --mermaid', 'see the stages and how they connect'],
  ['status', 'what is stale, and why'],
  ['repro', 'run what changed, in dependency order'],
];

/** Root help with an EXAMPLES section; wired in by `oclif.helpClass` in package.json. */
export default class DvclHelp extends Help {
  override formatRoot(): string {
    const bin = this.config.bin;
    const body = ROOT_EXAMPLES.map(([args, what]) => `${what}\n\n  $ ${bin} ${args}`).join('\n\n');
    return `${super.formatRoot()}\n\n${this.section('EXAMPLES', body)}`;
  }
}
