// Worker thread of fuzz-config.test.ts: loads each mutated configuration with the built
// loadConfig (dist/core/config/load.js, tsc's output of src/core/config/load.ts) and reports how it ended.
// A worker, so that a case that hangs can be stopped and reported instead of hanging the suite.
import fs from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';

const { loadConfig } = await import(workerData.configModule);
const { dir } = workerData;

parentPort.on('message', ({ id, files }) => {
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  try {
    const cfg = loadConfig({ cwd: dir, root: dir });
    parentPort.postMessage({ id, ok: true, stages: cfg.stages.length });
  } catch (e) {
    const err = e ?? {};
    parentPort.postMessage({
      id, ok: false, name: err.name ?? typeof e, code: err.code, exit: err.exit, message: String(err.message ?? e),
      stack: String(err.stack ?? ''), suggestions: err.suggestions,
    });
  }
});
parentPort.postMessage({ ready: true });
