import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from './helpers/cli.js';

const KEYS = [
  'id',
  'xi',
  'omega',
  'alpha',
  'widths',
  'capacity',
  'params',
  'macs',
  'totalFeatures',
];

describe('featshift family', () => {
  it('prints the 193 VGG-16 variants as an aligned table', () => {
    const r = runCli(['family']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 194);
    assert.match(
      lines[0] ?? '',
      /^\s*id\s+xi\s+omega\s+alpha\s+widths\s+capacity\s+params\s+macs\s+totalFeatures/,
    );
    assert.match(
      lines[1] ?? '',
      /^\s*1\s+0\s+4\s+8\s+823 961 852 708 552 405 279 181 110 63 34 17 9 4 2\s+27206551\s/,
    );
    // Aligned: every row's capacity column ends at the same place.
    const ends = lines.slice(1).map((l) => l.search(/\d+\s+\d+\s+\d+\s+\d+\s*$/));
    assert.equal(
      new Set(ends.map((e, i) => e + (lines[i + 1]?.slice(e).split(/\s+/)[0]?.length ?? 0))).size,
      1,
    );
  });

  it('prints JSON with exactly the documented keys, and the baseline as id 0', () => {
    const r = runCli(['family', '--format', 'json', '--include-baseline']);
    assert.equal(r.status, 0, r.stderr);
    const list = JSON.parse(r.stdout) as Record<string, unknown>[];
    assert.equal(list.length, 194);
    for (const a of list) assert.deepEqual(Object.keys(a), KEYS);
    assert.deepEqual(list[0], {
      id: 0,
      xi: null,
      omega: null,
      alpha: null,
      widths: [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512],
      capacity: 15239872,
      params: 15250378,
      macs: 313725952,
      totalFeatures: 5248,
    });
    assert.equal(list[193]?.capacity, 13771031);
  });

  it('writes CSV atomically to a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'featshift-'));
    const file = join(dir, 'sub', 'family.csv');
    const r = runCli(['family', '--depth', '19', '--format', 'csv', '-o', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    const rows = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(rows[0], KEYS.join(','));
    assert.equal(rows.length, 140);
    assert.equal(rows[1]?.split(',')[4]?.split(' ').length, 18);
  });

  it('scales the budget and honours the grid options', () => {
    const r = runCli([
      'family',
      '--format',
      'json',
      '--width-multiplier',
      '0.25',
      '--xi',
      '7',
      '--omega',
      '2:4:0.5',
      '--alpha',
      '-8:8:4',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const list = JSON.parse(r.stdout) as { omega: number; alpha: number; totalFeatures: number }[];
    // Skewed members of this grid lose too much area at the network's ends: only alpha = 0 stays.
    assert.deepEqual(
      list.map((a) => [a.omega, a.alpha]),
      [
        [2.5, 0],
        [3, 0],
        [3.5, 0],
      ],
    );
    for (const a of list) assert.ok(a.totalFeatures >= 0.95 * 1312 && a.totalFeatures <= 1312 + 15);
  });

  const bad: [string, string[], RegExp][] = [
    ['a depth that is not 3k + 7', ['--depth', '15'], /--depth.*3k \+ 7.*10, 13, 16, 19/],
    ['a non-integer depth', ['--depth', 'deep'], /--depth.*integer/],
    ['a zero class count', ['--classes', '0'], /--classes.*positive integer/],
    ['a negative patch size', ['--patch-size', '-3'], /--patch-size.*positive integer/],
    ['an empty grid', ['--xi', '5:2:1'], /--xi.*empty/],
    ['a malformed grid', ['--alpha', '1:2'], /--alpha.*MIN:MAX:STEP/],
    ['a budget too small for every member', ['--total-features', '20'], /no architecture.*valid/],
    ['both budgets', ['--total-features', '100', '--width-multiplier', '2'], /cannot be used with/],
    ['an unknown format', ['--format', 'xml'], /table, json, csv/],
    ['a mistyped option', ['--dpeth', '16'], /unknown option '--dpeth'.*Did you mean --depth\?/],
    ['a linear flag without the linear family', ['--wa', '0:8:1'], /--wa.*add --family linear/],
    [
      'a skew-normal flag with the linear family',
      ['--family', 'linear', '--omega', '1:2:1'],
      /--omega.*drop it, or give --family both/,
    ],
    ['an unknown cost to hold', ['--hold', 'flops'], /features, macs, params/],
    ['a quantisation multiplier of 1', ['--family', 'linear', '--wm', '1:1:1'], /--wm.*above 1/],
    [
      'a linear grid with no valid member',
      ['--family', 'linear', '--wa', '-10:-8:1'],
      /no member of this grid is valid/,
    ],
  ];
  for (const [what, args, message] of bad) {
    it(`refuses ${what} with one line and exit code 2`, () => {
      const r = runCli(['family', ...args]);
      assert.equal(r.status, 2);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /\bat .*\.js:\d+/);
    });
  }

  it('lists the linear family held to the baseline’s MACs, every member with its costs and its miss', () => {
    const r = runCli([
      'family',
      '--family',
      'linear',
      '--width-multiplier',
      '0.125',
      '--hold',
      'macs',
      '--include-baseline',
      '--format',
      'json',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const list = JSON.parse(r.stdout) as Record<string, unknown>[];
    assert.deepEqual(Object.keys(list[0] ?? {}), [
      'id',
      'w0',
      'wa',
      'wm',
      'widths',
      'capacity',
      'params',
      'macs',
      'totalFeatures',
      'hold',
      'deviation',
    ]);
    const [baseline, ...members] = list as [Record<string, unknown>, ...Record<string, unknown>[]];
    assert.equal(baseline.id, 0);
    assert.ok(members.length >= 15);
    for (const m of members) {
      assert.equal(m.hold, 'macs');
      assert.ok(Math.abs((m.macs as number) / (baseline.macs as number) - 1) <= 0.01, String(m.id));
      assert.ok(Math.abs(m.deviation as number) <= 0.01);
    }
    const table = runCli(['family', '--family', 'linear', '--hold', 'params', '--wa', '0:16:8']);
    assert.equal(table.status, 0, table.stderr);
    assert.match(
      table.stdout,
      /^\s*id\s+w0\s+wa\s+wm\s+widths\s+capacity\s+params\s+macs\s+totalFeatures\s+hold\s+deviation/,
    );
    assert.match(table.stdout, /params\s+[+-]\d+\.\d\d %/);
  });

  it('suggests the closest command', () => {
    const r = runCli(['famliy']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /Did you mean family\?/);
  });

  it('has help for the command', () => {
    const r = runCli(['family', '--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /--width-multiplier <M>/);
  });
});
