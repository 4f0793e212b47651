import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli, startCli } from './helpers/cli.js';
import { resultNumbers, results } from './helpers/results.js';
import { cheapestIds, tinyHalvingSweep, tinySweep } from './helpers/tiny-study.js';

/**
 * A linear selection (docs/method.md §8), held to the baseline's MACs, through the sweep, its
 * resume and successive halving, the analysis and the report, on the tiny VGG-10 at 1/16 width.
 */
const tmp = (): string => mkdtempSync(join(tmpdir(), 'featshift-linear-'));
/** Falling, uniform and rising members of the tiny linear family (ids of `featshift family`). */
const IDS = [1, 2, 10, 18];
const LINEAR = ['--family', 'linear', '--hold', 'macs'];
const sweep = (epochs: number, train: number): string[] => [
  ...tinySweep(IDS, epochs, train),
  ...LINEAR,
];

describe('a linear family held to MACs, end to end (tiny family)', () => {
  const whole = tmp();
  const halvedDir = tmp();

  it('trains its members and the baseline, each record naming the family, its parameters and its miss', () => {
    const r = runCli([...sweep(2, 512), '--include-baseline', '--out', whole]);
    assert.equal(r.status, 0, r.stderr);
    const records = results(whole);
    assert.deepEqual(
      records.map((x) => x.id),
      [0, ...IDS],
    );
    const baseline = records[0];
    assert.ok(baseline && baseline.family === undefined && baseline.hold === undefined);
    for (const x of records.slice(1)) {
      assert.equal(x.family, 'linear');
      assert.equal(x.w0, 48);
      assert.equal(typeof x.wa, 'number');
      assert.equal(x.wm, null);
      assert.equal(x.hold, 'macs');
      assert.equal(x.target, baseline.macs);
      assert.ok(Math.abs(x.macs / baseline.macs - 1) <= 0.01, `id ${x.id}: ${x.macs}`);
      assert.ok(Math.abs(x.macs / baseline.macs - 1 - (x.deviation ?? NaN)) < 1e-12);
    }
    const falling = records.find((x) => x.id === 1)?.widths ?? [];
    assert.ok((falling[0] ?? 0) > (falling[falling.length - 1] ?? 0), 'id 1 falls with depth');
    const config = JSON.parse(readFileSync(join(whole, 'config.json'), 'utf8')) as {
      study: { family: string; hold: string };
    };
    assert.deepEqual([config.study.family, config.study.hold], ['linear', 'macs']);
    assert.match(r.stdout, /rank\s+id\s+w0\s+wa\s+wm\s+centre\s+seeds\s+best val %/);
    assert.match(
      r.stdout,
      /Ids number the linear family of VGG-10, .*each held to the baseline's MACs within 1 %/,
    );
    assert.match(
      r.stdout,
      /a linear model of best validation accuracy on the widths' centre of mass/,
    );
  });

  it('resumes after Ctrl-C to the results of the uninterrupted run', async () => {
    const dir = tmp();
    const { child, exited } = await startCli(
      [...sweep(2, 512), '--include-baseline', '--out', dir, '--json-log'],
      (out) => out.includes('"event":"epoch"'),
    );
    child.kill('SIGINT');
    assert.equal(await exited, 130);
    const r = runCli(['sweep', '--resume', dir, '--threads', '1', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(resultNumbers(results(dir)), resultNumbers(results(whole)));
  });

  it('halves a linear selection: all to the first rung, the best half on', () => {
    const dir = halvedDir;
    const r = runCli([...tinyHalvingSweep(IDS, 3, 256), ...LINEAR, '--out', dir]);
    assert.equal(r.status, 0, r.stderr);
    const got = results(dir);
    assert.equal(got.length, IDS.length);
    assert.equal(got.filter((x) => x.valAcc.length === 3).length, 2, 'the best half goes on');
    assert.ok(got.every((x) => x.family === 'linear' && x.hold === 'macs'));
    assert.ok(got.some((x) => x.stoppedAtRung === 1));
  });

  it('is analysed by where its features sit (the centre of mass) and drawn in the report', () => {
    const a = runCli(['analyze', whole, '--format', 'json']);
    assert.equal(a.status, 0, a.stderr);
    const analysis = JSON.parse(a.stdout) as {
      architectures: { id: number; family?: string; location: number | null; wa?: number }[];
      groups: { scheme: string; description: string }[];
      location: { measure: string } | null;
    };
    const member = analysis.architectures.find((x) => x.id === 18);
    assert.equal(member?.family, 'linear');
    assert.ok(typeof member.location === 'number' && member.location > 4.5, 'rising: late centre');
    assert.equal(analysis.architectures.find((x) => x.id === 0)?.location, null);
    assert.ok(analysis.groups.some((g) => g.scheme === 'location' && /centre/.test(g.description)));
    assert.ok(!analysis.groups.some((g) => g.scheme === 'spread' || g.scheme === 'skew'));
    assert.equal(analysis.location?.measure, 'centre');
    const html = join(whole, 'report.html');
    const r = runCli(['report', whole, '-o', html]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(html));
    assert.match(readFileSync(html, 'utf8'), /"family":"linear"/);
  });

  it('compares it with a skew-normal study of the same recipe on the centre of mass, in analyze and the report', () => {
    const skew = tmp();
    const s = runCli([
      ...tinySweep(cheapestIds(4), 2, 512),
      '--include-baseline',
      '--out',
      skew,
      '--quiet',
    ]);
    assert.equal(s.status, 0, s.stderr);
    const r = runCli(['analyze', '--compare', skew, whole, '--format', 'json']);
    assert.equal(r.status, 0, r.stderr);
    const c = JSON.parse(r.stdout) as {
      studies: {
        family: string;
        hold: string;
        members: number;
        centres: [number, number] | null;
        errors: number[];
        effect: { measure: string } | null;
      }[];
      finding: string[];
    };
    assert.deepEqual(
      c.studies.map((x) => [x.family, x.hold, x.members]),
      [
        ['skew-normal', 'features', 4],
        ['linear', 'macs', 4],
      ],
    );
    for (const x of c.studies) {
      assert.ok(x.centres && x.centres[0] > 0 && x.centres[1] < 9, JSON.stringify(x.centres));
      assert.equal(x.errors.length, x.members);
      assert.equal(x.effect?.measure, 'centre');
    }
    assert.match(c.finding[0] ?? '', /^Question: does moving the features one layer later/);
    assert.match(c.finding[1] ?? '', /^skew-normal held to the features \(4 members, centres /);
    assert.match(
      c.finding[2] ?? '',
      /^linear held to MACs \(4 members, centres .*raw, at held macs/,
    );
    const text = runCli(['analyze', '--compare', skew, whole]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /study\s+family\s+held\s+members\s+runs\s+centres\s+MACs/);
    const html = join(skew, 'both.html');
    assert.equal(runCli(['report', skew, whole, '-o', html]).status, 0);
    assert.equal((readFileSync(html, 'utf8').match(/"locateBy":"centre"/g) ?? []).length, 2);
    // Studies of another recipe are not compared; one study is no comparison.
    const other = runCli(['analyze', '--compare', skew, halvedDir]);
    assert.equal(other.status, 2);
    assert.match(
      other.stderr,
      /differs from .* in .*epochs.*compare studies of one dataset, depth, budget and recipe/,
    );
    assert.equal(runCli(['analyze', '--compare', skew]).status, 2);
  });

  it('refuses a flag of the other family, in one line', () => {
    const r = runCli(['sweep', '--wa', '0:8:1']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--wa.*only the linear family has it: add --family linear/);
    const s = runCli(['sweep', '--family', 'linear', '--alpha', '0']);
    assert.equal(s.status, 2);
    assert.match(s.stderr, /--alpha.*drop it, or give --family both/);
  });
});
