import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from './helpers/cli.js';
import { architectureRecord } from './helpers/results.js';
import { referenceCsv } from '../src/run/results.js';
import { skewNormalFamily } from '../src/family/skew-normal.js';

import type { ResultRecord } from '../src/run/results.js';

describe('featshift analyze', () => {
  const tmp = (): string => mkdtempSync(join(tmpdir(), 'featshift-analyze-'));
  // Real members of the scaled family, so that the original's CSVs carry real widths.
  const family = skewNormalFamily({ widthMultiplier: 0.125 });
  const member = (xi: number): (typeof family)[number] =>
    family.find((a) => a.xi === xi) ?? (family[0] as (typeof family)[number]);
  const fromMember = (xi: number, seed: number, best: number): ResultRecord =>
    architectureRecord(member(xi), seed, best);
  const records = [0, 1, 2].flatMap((seed) => [
    fromMember(1, seed, 88 + seed),
    fromMember(2, seed, 87.5 + seed),
    fromMember(3, seed, 87 + seed),
    fromMember(13, seed, 80 + seed),
    fromMember(14, seed, 79.5 + seed),
    fromMember(15, seed, 79 + seed),
  ]);

  it('gives per-architecture intervals and group differences with intervals as JSON', () => {
    const dir = tmp();
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        featshift: '0.1.0',
        study: { dataset: 'FashionMNIST', depth: 16, seed: 0, seeds: [0, 1, 2] },
        architectures: [...new Set(records.map((r) => r.id))],
      }),
    );
    writeFileSync(
      join(dir, 'results.jsonl'),
      records.map((r) => `${JSON.stringify(r)}\n`).join(''),
    );
    const r = runCli(['analyze', dir, '--format', 'json']);
    assert.equal(r.status, 0, r.stderr);
    const a = JSON.parse(r.stdout) as {
      finished: number;
      architectures: {
        id: number;
        seeds: number[];
        bestVal: { mean: number; halfWidth: number };
      }[];
      differences: {
        minuend: string;
        subtrahend: string;
        decided: boolean;
        mean: { low: number };
      }[];
      finding: string[];
    };
    assert.equal(a.finished, 18);
    const first = a.architectures[0];
    assert.deepEqual(first?.seeds, [0, 1, 2]);
    assert.equal(first.bestVal.mean, 89);
    assert.ok(Math.abs(first.bestVal.halfWidth - 4.302652729 / Math.sqrt(3)) < 1e-6);
    const earlyLate = a.differences.find((d) => d.minuend === 'early' && d.subtrahend === 'late');
    assert.equal(earlyLate?.decided, true);
    assert.ok(earlyLate.mean.low > 0);
    assert.match(a.finding.join('\n'), /early − late: \+8\.00 points .*: early is better/);
    const text = runCli(['analyze', dir]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /Groups \(best validation accuracy/);
    assert.match(
      text.stdout,
      /^Ids number the skew-normal family of VGG-16, VGG-16's features \(xi 0:15:1, /m,
    );
    assert.match(text.stdout, /early − late/);
  });

  it("reads the original code's CSV folders (one seed) and says what one seed cannot tell", () => {
    const dir = join(tmp(), '2018-05-01_12-00-00;FashionMNIST;VGG');
    mkdirSync(dir, { recursive: true });
    const one = records.filter((r) => r.seed === 0).sort((x, y) => x.id - y.id);
    one.forEach((_, i) => {
      const rec = one[i] as ResultRecord;
      writeFileSync(
        join(dir, `model_${String(rec.id).padStart(3, '0')}.csv`),
        referenceCsv(one.slice(0, i + 1)),
      );
    });
    const r = runCli(['analyze', dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /6 runs, seeds 0/);
    assert.match(r.stdout, /one seed per architecture/);
  });

  it('refuses folders without results and folders of different studies, in one line', () => {
    const empty = runCli(['analyze', tmp()]);
    assert.equal(empty.status, 2);
    assert.match(empty.stderr, /holds no results/);
    assert.equal(empty.stderr.trim().split('\n').length, 1);
    const csvFolder = (dataset: string): string => {
      const dir = join(tmp(), `2018-05-01_12-00-00;${dataset};VGG`);
      mkdirSync(dir, { recursive: true });
      const rec = records[0] as ResultRecord;
      writeFileSync(join(dir, `model_${String(rec.id).padStart(3, '0')}.csv`), referenceCsv([rec]));
      return dir;
    };
    const many = runCli(['analyze', csvFolder('FashionMNIST'), '--resamples', '2000000']);
    assert.equal(many.status, 2);
    assert.match(many.stderr, /--resamples 2000000 is more than a million/);
    assert.equal(many.stderr.trim().split('\n').length, 1);
    const mixed = runCli(['analyze', csvFolder('FashionMNIST'), csvFolder('CIFAR10')]);
    assert.equal(mixed.status, 2);
    assert.match(mixed.stderr, /is a study of CIFAR-?10 .*analyse one study at a time/);
    assert.equal(mixed.stderr.trim().split('\n').length, 1);
  });
});
