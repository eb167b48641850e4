import { Flags } from '@oclif/core';
import { DvclCommand } from '../cli/base.js';
import type { DagJson } from '../cli/render-dag.js';

export default class Dag extends DvclCommand {
  static override summary = 'Show the pipeline as a graph of stages';
  static override description = `Stages are linked when a dep of one is, contains, or lies inside an out of another. \
The default view lists stages in the order they run; --mermaid and --dot print graphs for \
Mermaid (GitHub renders it in Markdown) and Graphviz; --json gives nodes and edges.`;
  static override examples = [
    '<%= config.bin %> dag',
    '<%= config.bin %> dag --mermaid',
    '<%= config.bin %> dag --dot | dot -Tsvg > pipeline.svg',
    '<%= config.bin %> dag --json',
  ];
  static override flags = {
    mermaid: Flags.boolean({ description: 'print a Mermaid flowchart', exclusive: ['dot'] }),
    dot: Flags.boolean({ description: 'print a Graphviz digraph', exclusive: ['mermaid'] }),
  };

  async run(): Promise<DagJson> {
    const { flags } = await this.parse(Dag);
    const { loadConfig } = await import('../core/config/load.js');
    const r = await import('../cli/render-dag.js');
    const cfg = loadConfig({ cwd: process.cwd() });
    if (!this.jsonEnabled()) this.log(flags.mermaid ? r.dagMermaid(cfg) : flags.dot ? r.dagDot(cfg) : r.dagText(cfg));
    return r.dagJson(cfg);
  }
}
