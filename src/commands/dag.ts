import { Args, Flags } from '@oclif/core';
import { DvclCommand } from '../cli/base.js';
import { globFlag } from '../cli/target-flags.js';
import type { DagJson } from '../cli/render-dag.js';

export default class Dag extends DvclCommand {
  static override summary = 'Show the pipeline as a graph of stages';
  static override description = `Stages are linked when a dep of one is, contains, or lies inside an out of another. \
The default view lists stages in the order they run; --mermaid and --dot print graphs for \
Mermaid (GitHub renders it in Markdown) and Graphviz; --json gives nodes and edges. With \
targets (stage names, out paths, or with --glob patterns over stage names), only those stages, \
their upstream and their downstream.`;
  static override strict = false;
  static override args = { stages: Args.string({ ignoreStdin: true, description: 'show only these stages with their upstream and downstream (default: all)' }) };
  static override flags = {
    mermaid: Flags.boolean({ description: 'print a Mermaid flowchart', exclusive: ['dot'] }),
    dot: Flags.boolean({ description: 'print a Graphviz digraph', exclusive: ['mermaid'] }),
    glob: globFlag,
  };
  static override examples = [
    '<%= config.bin %> dag',
    '<%= config.bin %> dag --mermaid',
    '<%= config.bin %> dag --dot | dot -Tsvg > pipeline.svg',
    '<%= config.bin %> dag --json',
    '<%= config.bin %> dag features   # what features needs and what needs it',
    '<%= config.bin %> dag data/features.csv --mermaid   # the same, by an out of the stage',
  ];

  async run(): Promise<DagJson> {
    const { argv, flags } = await this.parse(Dag);
    const { loadConfig } = await import('../core/config/load.js');
    const { focusConfig } = await import('../core/graph/targets.js');
    const r = await import('../cli/render-dag.js');
    const cfg = focusConfig(loadConfig({ cwd: process.cwd() }), argv as string[], { cwd: process.cwd(), glob: flags.glob });
    if (!this.jsonEnabled()) this.log(flags.mermaid ? r.dagMermaid(cfg) : flags.dot ? r.dagDot(cfg) : r.dagText(cfg));
    return r.dagJson(cfg);
  }
}
