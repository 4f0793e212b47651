import { benchData } from './data.js';
import { benchEngine } from './engine.js';
import { benchFamily } from './family.js';
import { benchHalving } from './halving.js';
import { benchParallel } from './parallel.js';
import { benchPrecision } from './precision.js';
import { benchSchedule } from './schedule.js';
import { benchStudy } from './study.js';
import { printTable, type BenchRow } from './common.js';

const suites: Record<string, () => BenchRow[] | Promise<BenchRow[]>> = {
  family: benchFamily,
  engine: benchEngine,
  data: benchData,
  schedule: benchSchedule,
  study: benchStudy,
  halving: benchHalving,
  parallel: benchParallel,
  precision: benchPrecision,
};

const args = process.argv.slice(2);
const json = args.includes('--json');
const names = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--record');
const unknown = names.filter((n) => !(n in suites));
if (unknown.length > 0) {
  console.error(
    `bench: unknown suite ${unknown.join(', ')}; choose from ${Object.keys(suites).join(', ')}`,
  );
  process.exit(2);
}
for (const name of names.length > 0 ? names : Object.keys(suites)) {
  const rows = await (suites[name] as () => BenchRow[] | Promise<BenchRow[]>)();
  if (json) for (const r of rows) console.log(JSON.stringify(r));
  else {
    console.log(`\n== ${name}`);
    printTable(rows);
  }
}
