// Stage `features`: merge the per-station feature files into one CSV, one row per station.
// usage: node scripts/features.mjs <features-dir> <features.csv>
import fs from 'node:fs';
import path from 'node:path';
import { args, die, readText, writeText } from './lib.mjs';

const COLUMNS = ['station', 'name', 'count', 'mean_temp_c', 'min_temp_c', 'max_temp_c',
  'peak_rolling_temp_c', 'trend_c_per_day', 'mean_humidity_pct'];
const [dir, output] = args(2, '<features-dir> <features.csv>');

let files;
try { files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort(); } catch (e) {
  die(`cannot list ${dir}: ${e.code ?? e.message}; has the extract stage run?`);
}
if (files.length === 0) die(`${dir} has no .json feature files; has the extract stage run?`);

const rows = files.map((f) => {
  const file = path.join(dir, f);
  let feat;
  try { feat = JSON.parse(readText(file)); } catch (e) { die(`${file}: invalid JSON: ${e.message}`); }
  const missing = COLUMNS.filter((c) => feat[c] === undefined);
  if (missing.length) die(`${file}: missing ${missing.join(', ')}`);
  if (/[",\n]/.test(feat.name)) die(`${file}: station name ${JSON.stringify(feat.name)} cannot go in this CSV`);
  return COLUMNS.map((c) => feat[c]).join(',');
});
writeText(output, [COLUMNS.join(','), ...rows].join('\n') + '\n');
process.stderr.write(`features: ${rows.length} stations -> ${output}\n`);
