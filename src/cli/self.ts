import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { shellQuote } from '../core/template.js';

/** How git should call this very dvcl: absolute node + absolute bin/run.js, shell-quoted. */
export function driverCommand(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const bin = fs.realpathSync(path.resolve(here, '../../bin/run.js'));
  return `${shellQuote(process.execPath)} ${shellQuote(bin)}`;
}
