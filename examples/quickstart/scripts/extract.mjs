// Stage `extract` (per item): compute the features of one station's readings.
// usage: node scripts/extract.mjs <data/items/XXX.json> <data/features/XXX.json>
import { args, die, json, loadParams, readText, round, writeText } from './lib.mjs';

const [input, output] = args(2, '<item.json> <features.json>');
const param = loadParams();
const window = param('extract.window', (v) => Number.isInteger(v) && v >= 1);
const failOn = String(param('extract.fail_on') ?? '').split(',').map((s) => s.trim()).filter(Boolean);

let item;
try { item = JSON.parse(readText(input)); } catch (e) { die(`${input}: invalid JSON: ${e.message}`); }
const { station, name, readings } = item ?? {};
if (typeof station !== 'string' || !Array.isArray(readings) || readings.length === 0) {
  die(`${input}: expected {"station", "name", "readings": [...]} with at least one reading`);
}
readings.forEach((r, i) => {
  if (!Number.isFinite(r?.temp_c) || !Number.isFinite(r?.humidity_pct) || Number.isNaN(Date.parse(r?.date))) {
    die(`${input}: reading ${i} is malformed: ${JSON.stringify(r)}`);
  }
});

// A realistic failure, off by default: list station ids in extract.fail_on to see how dvcl
// records a failed item, keeps the others, and what `dvcl status` / `dvcl retry` then say.
if (failOn.includes(station)) {
  die(`${input}: calibration record missing for station ${station} (simulated via extract.fail_on)`);
}

const temps = readings.map((r) => r.temp_c);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
// Least-squares slope of temperature against days since the first reading.
const days = readings.map((r) => (Date.parse(r.date) - Date.parse(readings[0].date)) / 86_400_000);
const dx = mean(days);
const den = days.reduce((a, d) => a + (d - dx) ** 2, 0);
const slope = den === 0 ? 0 : days.reduce((a, d, i) => a + (d - dx) * (temps[i] - mean(temps)), 0) / den;
// Highest rolling mean over `window` consecutive readings (all readings if there are fewer).
const w = Math.min(window, temps.length);
let peak = -Infinity;
for (let i = 0; i + w <= temps.length; i++) peak = Math.max(peak, mean(temps.slice(i, i + w)));

writeText(output, json({
  station,
  name,
  count: readings.length,
  first_date: readings[0].date,
  last_date: readings.at(-1).date,
  mean_temp_c: round(mean(temps)),
  min_temp_c: round(Math.min(...temps)),
  max_temp_c: round(Math.max(...temps)),
  peak_rolling_temp_c: round(peak),
  trend_c_per_day: round(slope, 3),
  mean_humidity_pct: round(mean(readings.map((r) => r.humidity_pct)), 1),
}));
