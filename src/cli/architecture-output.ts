import Table from 'cli-table3';
import { stringify } from 'csv-stringify/sync';
import type { Architecture } from '../family/skew-normal.js';
import { familiesIn } from '../family/members.js';

export type OutputFormat = 'table' | 'json' | 'csv';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'json', 'csv'];

type Value = string | number | null;

/** One column of a listing: its raw value (JSON, CSV) and how the table shows it. */
interface Column {
  key: string;
  value: (a: Architecture) => Value;
  shown?: (a: Architecture) => string;
  align: 'left' | 'right';
}

const field = (key: keyof Architecture): Column => ({
  key,
  value: (a) => {
    const v = a[key];
    return typeof v === 'number' || typeof v === 'string' ? v : null;
  },
  align: 'right',
});

const COST: Column[] = [
  {
    key: 'widths',
    value: (a) => a.widths.join(' '),
    align: 'left',
  },
  field('capacity'),
  field('params'),
  field('macs'),
  field('totalFeatures'),
];

const HELD: Column[] = [
  field('hold'),
  {
    key: 'deviation',
    value: (a) => a.deviation ?? null,
    shown: (a) =>
      a.deviation === undefined
        ? '-'
        : `${a.deviation >= 0 ? '+' : ''}${(100 * a.deviation).toFixed(2)} %`,
    align: 'right',
  },
];

/**
 * The columns of a listing: the id, the family's parameters (xi, omega, alpha, or the linear
 * family's w0, wa, wm; a listing of both families names each member's family and has both sets),
 * the widths and every cost (features, parameters, MACs), and, where a cost other than the
 * paper's features is held or a linear member listed, what it was held to and how near it came.
 */
function columns(list: readonly Architecture[]): Column[] {
  const kind = familiesIn(list);
  const familyColumn: Column = {
    key: 'family',
    value: (a) => (a.id === 0 ? null : (a.family ?? 'skew-normal')),
    align: 'left',
  };
  const shape = [
    ...(kind === 'both' ? [familyColumn] : []),
    ...(kind === 'linear' ? [] : (['xi', 'omega', 'alpha'] as const).map(field)),
    ...(kind === 'skew-normal' ? [] : (['w0', 'wa', 'wm'] as const).map(field)),
  ];
  const held = list.some((a) => a.hold !== undefined);
  return [field('id'), ...shape, ...COST, ...(held ? HELD : [])];
}

const BORDERLESS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '',
};

export function formatArchitectures(list: readonly Architecture[], format: OutputFormat): string {
  const cols = columns(list);
  switch (format) {
    case 'json':
      // One architecture per line: readable, and still one JSON array; key order fixed by the
      // columns, so that JSON and CSV read the same; the widths as a list.
      return `[\n${list
        .map(
          (a) =>
            `  ${JSON.stringify(Object.fromEntries(cols.map((c) => [c.key, c.key === 'widths' ? a.widths : c.value(a)])))}`,
        )
        .join(',\n')}\n]\n`;
    case 'csv':
      // Widths as one space-separated field: one column per layer would vary with the depth.
      return stringify(
        list.map((a) => cols.map((c) => c.value(a) ?? '')),
        { header: true, columns: cols.map((c) => c.key) },
      );
    case 'table': {
      const table = new Table({
        head: cols.map((c) => c.key),
        style: { head: [], border: [], compact: true, 'padding-left': 0, 'padding-right': 2 },
        chars: BORDERLESS,
        colAligns: cols.map((c) => c.align),
      });
      for (const a of list)
        table.push(cols.map((c) => (c.shown ? c.shown(a) : String(c.value(a) ?? '-'))));
      return `${table.toString()}\n`;
    }
  }
}
