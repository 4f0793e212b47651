// The engine benchmark's JSON rows (`node dist/bench/main.js engine --json`) as a Markdown table:
// this device's limit, then each workload's throughput against PyTorch's with the ratio's 95 %
// interval over rounds (the fastest decile of steps run in lockstep, then the median step of
// separate runs), and its fraction of the limit.
//   node scripts/device/engine-table.mjs ENGINE_JSONL
import { readFileSync } from 'node:fs';

const rows = readFileSync(process.argv[2] ?? '/dev/stdin', 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('{'))
  .map((l) => JSON.parse(l));
const n = (v, digits = 0) => (typeof v === 'number' ? v.toFixed(digits) : '-');
const ratio = (r, low, high) =>
  typeof r === 'number' ? `${r.toFixed(2)}x [${n(low, 2)}, ${n(high, 2)}]` : '-';
const pct = (v) => (typeof v === 'number' ? `${(100 * v).toFixed(0)} %` : '-');
const limits = rows.filter((r) => String(r.workload).startsWith('limit'));
const workloads = rows.filter((r) => !String(r.workload).startsWith('limit'));
const out = [];
if (limits.length > 0) {
  out.push('| limit | GFLOP/s fp32 | GFLOP/s bf16 |', '| --- | --- | --- |');
  for (const r of limits)
    out.push(
      `| ${r.workload.replace('limit: ', '')} | ${n(r.gflops_fp32)} | ${n(r.gflops_bf16)} |`,
    );
  out.push('');
}
out.push(
  '| workload | featshift img/s (best layout) | PyTorch img/s (best fp32 layout and allocator) | featshift / PyTorch fp32, fastest steps in lockstep | the same, median steps of separate runs | featshift bf16 | PyTorch bf16 | bf16 / PyTorch bf16, fastest steps in lockstep | fp32 of limit | bf16 of limit |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
);
for (const r of workloads) {
  const pt = {
    nchw: r.pytorch_nchw,
    'channels-last': r.pytorch_cl,
    'nchw+tcmalloc': r.pytorch_nchw_tcmalloc,
    'channels-last+tcmalloc': r.pytorch_cl_tcmalloc,
  }[r.pytorch_best_fp32];
  out.push(
    `| ${r.workload} | ${n(r.featshift_auto, 1)} | ${n(pt, 1)} | ${ratio(r.fastest_fp32, r.fastest_fp32_low, r.fastest_fp32_high)} | ${ratio(r.auto_vs_best_fp32, r.auto_ci_low, r.auto_ci_high)} | ${n(r.featshift_bf16, 1)} | ${n(r.pytorch_bf16, 1)} | ${ratio(r.fastest_bf16, r.fastest_bf16_low, r.fastest_bf16_high)} | ${pct(r.limit_frac_fp32)} | ${pct(r.limit_frac_bf16)} |`,
  );
}
console.log(out.join('\n'));
