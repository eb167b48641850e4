// Stage `split`: write one JSON file per station into the items folder.
// usage: node scripts/split.mjs <clean.csv> <items-dir>
import fs from 'node:fs';
import path from 'node:path';
import { args, die, expectHeader, json, readCsv, writeText } from './lib.mjs';

const [input, outDir] = args(2, '<clean.csv> <items-dir>');
const { header, rows } = readCsv(input);
expectHeader(input, header, ['station_id', 'station_name', 'date', 'temp_c', 'humidity_pct', 'quality']);

const stations = new Map();
for (const { line, fields } of rows) {
  const [id, name, date, temp, hum, quality] = fields;
  if (fields.length !== 6 || !/^[A-Z]{3}$/.test(id)) die(`${input}:${line}: malformed row; re-run the clean stage`);
  if (!stations.has(id)) stations.set(id, { station: id, name, readings: [] });
  stations.get(id).readings.push({ date, temp_c: Number(temp), humidity_pct: Number(hum), quality: Number(quality) });
}
if (stations.size === 0) die(`${input} has no rows`);

fs.mkdirSync(outDir, { recursive: true });
for (const s of [...stations.values()].sort((a, b) => (a.station < b.station ? -1 : 1))) {
  s.readings.sort((a, b) => (a.date < b.date ? -1 : 1));
  writeText(path.join(outDir, `${s.station}.json`), json(s));
}
process.stderr.write(`split: ${stations.size} stations -> ${outDir}/\n`);
