/**
 * A plain-text table for terminals and logs: columns right-aligned to their widest cell, the last
 * column left as it is (it holds free text or a sparkline).
 */
export function textTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((v, c) => (c === cells.length - 1 ? v : v.padStart(widths[c] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

/** 1.23G, 4.56M, 7.8k: counts of parameters and MACs. */
export const humanCount = (n: number): string =>
  n >= 1e9
    ? `${(n / 1e9).toFixed(2)}G`
    : n >= 1e6
      ? `${(n / 1e6).toFixed(2)}M`
      : n >= 1e3
        ? `${(n / 1e3).toFixed(1)}k`
        : String(n);

const BARS = '▁▂▃▄▅▆▇█';

/** Widths as a small bar chart in one line, each layer scaled to the widest. */
export function sparkline(widths: readonly number[]): string {
  const max = Math.max(...widths, 1);
  return widths.map((w) => BARS[Math.min(7, Math.floor((w / max) * 7.999))] ?? '').join('');
}
