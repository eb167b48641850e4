import { buildDag, inferEdges } from '../graph/dag.js';
import type { Dag, StageConfig } from '../pipeline.js';
import type { YamlSource } from './yaml-source.js';

/** Cross-stage checks (clashing outs, impossible deps, cycles), located in `.pipelinerc`. */
export function checkCrossStage(src: YamlSource, stages: StageConfig[]): Dag {
  const { edges, problems } = inferEdges(stages);
  const p = problems[0];
  if (p) {
    const at = p.index === undefined ? ['stages', p.stage, p.key] : ['stages', p.stage, p.key, p.index];
    if (p.key === 'foreach' && p.index === 0 && !Array.isArray(src.doc.getIn(['stages', p.stage, 'foreach']))) at.pop();
    throw src.error(at, p.message, p.hint);
  }
  const dag = buildDag(stages, edges);
  if ('cycle' in dag) {
    const [first] = dag.cycle;
    const msg = dag.cycle.length === 2 ? `stage ${first} depends on its own output` : `cycle: ${dag.cycle.join(' → ')}`;
    throw src.error(['stages', first], msg, 'a stage cannot (even indirectly) read what it writes', 'key');
  }
  return dag;
}
