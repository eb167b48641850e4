// Stage `report`: write reports/summary.md (Markdown) and reports/metrics.json.
// usage: node scripts/report.mjs <features.csv> <reports-dir>
import path from 'node:path';
import { args, die, json, loadParams, readCsv, round, writeText } from './lib.mjs';

const [input, outDir] = args(2, '<features.csv> <reports-dir>');
const top = loadParams()('report.top', (v) => Number.isInteger(v) && v >= 1);
const { header, rows } = readCsv(input);
const stations = rows.map(({ line, fields }) => {
  if (fields.length !== header.length) die(`${input}:${line}: expected ${header.length} fields`);
  const s = Object.fromEntries(header.map((h, i) => [h, i < 2 ? fields[i] : Number(fields[i])]));
  if (header.slice(2).some((h) => !Number.isFinite(s[h]))) die(`${input}:${line}: non-numeric feature`);
  return s;
});
if (stations.length === 0) die(`${input} has no stations`);

const readings = stations.reduce((n, s) => n + s.count, 0);
const by = (key, dir = -1) => [...stations].sort((a, b) => dir * (a[key] - b[key]) || (a.station < b.station ? -1 : 1));
const warmest = by('mean_temp_c').slice(0, top);
const [coldest] = by('mean_temp_c', 1);
const [fastest] = by('trend_c_per_day');
const metrics = {
  coldest_station: coldest.station,
  fastest_warming_station: fastest.station,
  max_temp_c: Math.max(...stations.map((s) => s.max_temp_c)),
  mean_temp_c: round(stations.reduce((a, s) => a + s.mean_temp_c * s.count, 0) / readings),
  mean_trend_c_per_day: round(stations.reduce((a, s) => a + s.trend_c_per_day, 0) / stations.length, 3),
  min_temp_c: Math.min(...stations.map((s) => s.min_temp_c)),
  readings,
  stations: stations.length,
  warmest_station: warmest[0].station,
};

const row = (s) => `| ${s.station} | ${s.name} | ${s.count} | ${s.mean_temp_c.toFixed(2)} | ` +
  `${s.min_temp_c.toFixed(1)} / ${s.max_temp_c.toFixed(1)} | ${s.trend_c_per_day >= 0 ? '+' : ''}${s.trend_c_per_day.toFixed(3)} |`;
const md = [
  '# Station summary',
  '',
  `${stations.length} stations, ${readings} valid readings.`,
  '',
  `- Mean temperature (all readings): **${metrics.mean_temp_c.toFixed(2)} °C**`,
  `- Range: ${metrics.min_temp_c.toFixed(1)} °C to ${metrics.max_temp_c.toFixed(1)} °C`,
  `- Coldest station: ${coldest.name} (${coldest.station}), ${coldest.mean_temp_c.toFixed(2)} °C on average`,
  `- Fastest warming: ${fastest.name} (${fastest.station}), ${fastest.trend_c_per_day.toFixed(3)} °C per day`,
  '',
  `## Warmest ${warmest.length} stations`,
  '',
  '| id | station | readings | mean °C | min / max °C | trend °C/day |',
  '|---|---|--:|--:|--:|--:|',
  ...warmest.map(row),
  '',
].join('\n');

writeText(path.join(outDir, 'summary.md'), md);
writeText(path.join(outDir, 'metrics.json'), json(metrics));
process.stderr.write(`report: ${path.join(outDir, 'summary.md')}, ${path.join(outDir, 'metrics.json')}\n`);
