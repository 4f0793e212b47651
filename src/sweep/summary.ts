import type { ResultRecord } from '../run/results.js';

const BARS = '▁▂▃▄▅▆▇█';

/** Widths as a small bar chart in one line, each layer scaled to the widest. */
export function sparkline(widths: readonly number[]): string {
  const max = Math.max(...widths, 1);
  return widths.map((w) => BARS[Math.min(7, Math.floor((w / max) * 7.999))] ?? '').join('');
}

const human = (n: number): string =>
  n >= 1e9
    ? `${(n / 1e9).toFixed(2)}G`
    : n >= 1e6
      ? `${(n / 1e6).toFixed(2)}M`
      : n >= 1e3
        ? `${(n / 1e3).toFixed(1)}k`
        : String(n);

/**
 * The ranked summary table: best validation accuracy first, with the caution its numbers need:
 * each is one training run (one seed), and another seed moves short runs by a point or more.
 */
export function summaryTable(records: readonly ResultRecord[]): string {
  const ranked = [...records].sort((a, b) => b.bestVal - a.bestVal || a.id - b.id);
  const rows = ranked.map((r, i) => [
    String(i + 1),
    r.id === 0 ? '0 (VGG)' : String(r.id),
    r.xi === null ? '-' : String(r.xi),
    r.omega === null ? '-' : String(r.omega),
    r.alpha === null ? '-' : String(r.alpha),
    r.bestVal.toFixed(2),
    r.bestValTrain.toFixed(2),
    human(r.params),
    human(r.macs),
    `${sparkline(r.widths)}${r.abandoned ? ' abandoned' : ''}${r.diverged ? ' DIVERGED' : ''}`,
  ]);
  const head = [
    'rank',
    'id',
    'xi',
    'omega',
    'alpha',
    'best val %',
    'train %',
    'params',
    'MACs',
    'widths',
  ];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((v, c) => (c === cells.length - 1 ? v : v.padStart(widths[c] ?? 0))).join('  ');
  return [
    line(head),
    ...rows.map(line),
    '',
    'One run (one seed) per architecture: another seed moves such numbers by a point or more, so this',
    'ranking cannot tell apart architectures a few points apart; it carries no interval.',
  ].join('\n');
}
