// Stage `clean`: validate raw station readings and write only the good rows, sorted.
// usage: node scripts/clean.mjs <raw.csv> <clean.csv>
import { args, die, expectHeader, loadParams, readCsv, writeText } from './lib.mjs';

const COLUMNS = ['station_id', 'station_name', 'date', 'temp_c', 'humidity_pct', 'quality'];
const [input, output] = args(2, '<raw.csv> <clean.csv>');
const param = loadParams();
const minQuality = param('clean.min_quality', (v) => typeof v === 'number' && v >= 0 && v <= 1);
const maxAbsTemp = param('clean.max_abs_temp_c', (v) => typeof v === 'number' && v > 0);

const { header, rows } = readCsv(input);
expectHeader(input, header, COLUMNS);

const num = (s) => (/^[-+]?\d+(\.\d+)?$/.test(s) ? Number(s) : NaN);
const dropped = {};
const seen = new Map();
for (const { line, fields } of rows) {
  const reason = (() => {
    if (fields.length === 1 && fields[0] === '') return 'blank line';
    if (fields.length !== COLUMNS.length) return `expected ${COLUMNS.length} fields, got ${fields.length}`;
    const [id, name, date, temp, hum, q] = fields;
    if (fields.some((f) => f === '')) return 'blank field';
    if (!/^[A-Z]{3}$/.test(id)) return 'bad station_id';
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(date))) return 'bad date';
    const [t, h, quality] = [num(temp), num(hum), num(q)];
    if ([t, h, quality].some(Number.isNaN)) return 'not a number';
    if (Math.abs(t) > maxAbsTemp) return 'temperature out of range';
    if (h < 0 || h > 100) return 'humidity out of range';
    if (quality < minQuality) return 'quality below clean.min_quality';
    const key = `${id} ${date}`;
    if (seen.has(key)) return 'duplicate reading';
    seen.set(key, [id, name, date, t.toFixed(1), String(Math.round(h)), quality.toFixed(2)]);
    return null;
  })();
  if (reason) (dropped[reason] ??= []).push(line);
}

if (seen.size === 0) die(`${input}: no valid rows left after cleaning`);
const kept = [...seen.values()].sort((a, b) => (a[0] + a[2] < b[0] + b[2] ? -1 : 1));
writeText(output, [COLUMNS, ...kept].map((r) => r.join(',')).join('\n') + '\n');

const nDropped = Object.values(dropped).reduce((n, l) => n + l.length, 0);
process.stderr.write(`clean: kept ${kept.length} of ${rows.length} rows, dropped ${nDropped}\n`);
for (const [reason, lines] of Object.entries(dropped).sort()) {
  process.stderr.write(`  ${reason}: line${lines.length > 1 ? 's' : ''} ${lines.join(', ')}\n`);
}
