// The `.pipelinerc` text of an imported pipeline: the stages in dvc.yaml's order, each under a
// comment naming the line it came from, and what was not translated listed at the end.
import { Document, isMap, isScalar, type YAMLMap } from 'yaml';

export interface EmittedStage {
  name: string;
  /** dvc.yaml's name of it (`train@us` for a foreach entry). */
  from: string;
  line: number | null;
  def: Record<string, unknown>;
}

export function pipelineText(opts: { source: string; stages: EmittedStage[]; notTranslated: string[] }): string {
  const doc = new Document({ version: 1, stages: Object.fromEntries(opts.stages.map((s) => [s.name, s.def])) });
  doc.commentBefore = ` Imported from ${opts.source} by \`dvcl import\`: review it, then run \`dvcl repro\`.\n`
    + ' Every key is described in .pipelinerc.example of the dvcl package.';
  const stages = doc.get('stages', true);
  if (isMap(stages)) {
    (stages as YAMLMap).items.forEach((pair, i) => {
      const s = opts.stages[i];
      const where = s.line === null ? opts.source : `${opts.source}:${s.line}`;
      if (isScalar(pair.key)) pair.key.commentBefore = ` from ${where}${s.from === s.name ? '' : ` (${s.from})`}`;
    });
  }
  if (opts.notTranslated.length) doc.comment = [' Not translated (`dvcl import` listed each with what to do instead):', ...opts.notTranslated.map((l) => `   ${l}`)].join('\n');
  const text = doc.toString({ lineWidth: 0 });
  return text.endsWith('\n') ? text : `${text}\n`;
}
