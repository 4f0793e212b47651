import Table from 'cli-table3';
import { stringify } from 'csv-stringify/sync';
import type { Architecture } from '../family/skew-normal.js';

export type OutputFormat = 'table' | 'json' | 'csv';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'json', 'csv'];

const COLUMNS = [
  'id',
  'xi',
  'omega',
  'alpha',
  'widths',
  'capacity',
  'params',
  'macs',
  'totalFeatures',
] as const satisfies readonly (keyof Architecture)[];

/** Key order fixed by COLUMNS, so that JSON and CSV read the same. */
function ordered(a: Architecture): Architecture {
  return Object.fromEntries(COLUMNS.map((c) => [c, a[c]])) as unknown as Architecture;
}

const shape = (v: number | null): string => (v === null ? '-' : String(v));

export function formatArchitectures(list: readonly Architecture[], format: OutputFormat): string {
  switch (format) {
    case 'json':
      // One architecture per line: readable, and still one JSON array.
      return `[\n${list.map((a) => `  ${JSON.stringify(ordered(a))}`).join(',\n')}\n]\n`;
    case 'csv':
      // Widths as one space-separated field: one column per layer would vary with the depth.
      return stringify(
        list.map((a) => [
          a.id,
          a.xi ?? '',
          a.omega ?? '',
          a.alpha ?? '',
          a.widths.join(' '),
          a.capacity,
          a.params,
          a.macs,
          a.totalFeatures,
        ]),
        { header: true, columns: [...COLUMNS] },
      );
    case 'table': {
      const table = new Table({
        head: [...COLUMNS],
        style: { head: [], border: [], compact: true, 'padding-left': 0, 'padding-right': 2 },
        chars: {
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
        },
        colAligns: ['right', 'right', 'right', 'right', 'left', 'right', 'right', 'right', 'right'],
      });
      for (const a of list) {
        table.push([
          a.id,
          shape(a.xi),
          shape(a.omega),
          shape(a.alpha),
          a.widths.join(' '),
          a.capacity,
          a.params,
          a.macs,
          a.totalFeatures,
        ]);
      }
      return `${table.toString()}\n`;
    }
  }
}
