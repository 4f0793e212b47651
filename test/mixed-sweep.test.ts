import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli, startCli } from './helpers/cli.js';
import { resultNumbers, results } from './helpers/results.js';
import { tinyHalvingSweep, tinySweep } from './helpers/tiny-study.js';

/**
 * One study of both families (docs/method.md §8), held to the baseline's MACs: skew-normal and
 * linear members whose ids coincide (1 of each) through the sweep, its resume and successive
 * halving, the reference CSVs, the analysis and the report, on the tiny VGG-10 at 1/16 width.
 */
const tmp = (): string => mkdtempSync(join(tmpdir(), 'featshift-both-'));
/** Skew-normal 1 (early), 36 (middle), 38 (late); linear 1 (falling), 2, 18 (rising). */
const IDS = '1,36,38,linear:1,linear:2,linear:18';
const BOTH = ['--family', 'both', '--hold', 'macs', '--ids', IDS];
/** tinySweep's options with the selection of both families in place of its ids. */
const sweep = (epochs: number, train: number): string[] => [
  ...tinySweep([0], epochs, train),
  ...BOTH,
];
const key = (r: { id: number; family?: string }): string =>
  r.family === 'linear' ? `linear:${r.id}` : String(r.id);

describe('one study of both families, held to MACs, end to end (tiny families)', () => {
  const whole = tmp();

  it('trains both families and the baseline, each record naming its family, ids unique per family', () => {
    const r = runCli([...sweep(2, 512), '--include-baseline', '--out', whole]);
    assert.equal(r.status, 0, r.stderr);
    const records = results(whole);
    assert.deepEqual(records.map(key).sort(), [
      '0',
      '1',
      '36',
      '38',
      'linear:1',
      'linear:18',
      'linear:2',
    ]);
    const baseline = records.find((x) => x.id === 0);
    for (const x of records.filter((y) => y.id !== 0)) {
      assert.equal(x.hold, 'macs');
      assert.ok(Math.abs(x.macs / (baseline?.macs ?? NaN) - 1) <= 0.01, key(x));
      assert.equal(x.family === 'linear', x.xi === null, `${key(x)}: xi only for skew-normal`);
    }
    const one = records.filter((x) => x.id === 1);
    assert.notDeepEqual(one[0]?.widths, one[1]?.widths, 'the two ids 1 are two architectures');
    const config = JSON.parse(readFileSync(join(whole, 'config.json'), 'utf8')) as {
      study: { family: string };
      architectures: unknown[];
    };
    assert.equal(config.study.family, 'both');
    assert.deepEqual(config.architectures, [0, 1, 36, 38, 'linear:1', 'linear:2', 'linear:18']);
    // The reference's CSVs keep their columns: one set per family, the baseline in the first.
    const csvs = readdirSync(whole).filter((f) => f.endsWith('.csv'));
    assert.deepEqual(csvs.sort(), [
      'linear_model_001.csv',
      'linear_model_002.csv',
      'linear_model_018.csv',
      'model_000.csv',
      'model_001.csv',
      'model_036.csv',
      'model_038.csv',
    ]);
    const linearCsv = readFileSync(join(whole, 'linear_model_018.csv'), 'utf8').trim().split('\n');
    assert.equal(linearCsv.length, 4, 'header and the three linear members');
    assert.match(linearCsv[0] ?? '', /^,Filters,Parameters,Mean,Variance,Skew,BestVal/);
    // The summary places both families: each one's parameters, the linear ids qualified.
    assert.match(r.stdout, /rank\s+id\s+xi\s+omega\s+alpha\s+w0\s+wa\s+wm\s+centre\s+seeds/);
    assert.match(r.stdout, /\blinear:18\b/);
    assert.match(r.stdout, /Ids number the skew-normal and linear families of VGG-10/);
  });

  it('trains each member exactly as a study of its own family alone does (same seed, same id)', () => {
    const alone = (family: string, ids: string): ReturnType<typeof results> => {
      const dir = tmp();
      const r = runCli([
        ...tinySweep([0], 2, 512),
        '--family',
        family,
        '--hold',
        'macs',
        '--ids',
        ids,
        '--include-baseline',
        '--out',
        dir,
        '--quiet',
      ]);
      assert.equal(r.status, 0, r.stderr);
      return results(dir);
    };
    const skew = alone('skew-normal', '1,36,38');
    const linear = alone('linear', '1,2,18').filter((x) => x.id !== 0);
    assert.deepEqual(resultNumbers(results(whole)), resultNumbers([...skew, ...linear]));
  });

  it('resumes after Ctrl-C to the results of the uninterrupted run', async () => {
    const dir = tmp();
    const { child, exited } = await startCli(
      [...sweep(2, 512), '--include-baseline', '--out', dir, '--json-log'],
      (out) => (out.match(/"event":"result"/g) ?? []).length >= 4,
    );
    child.kill('SIGINT');
    assert.equal(await exited, 130);
    const r = runCli(['sweep', '--resume', dir, '--threads', '1', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(resultNumbers(results(dir)), resultNumbers(results(whole)));
  });

  it('halves across both families: every member to the first rung, the best half of all six on', () => {
    const dir = tmp();
    const r = runCli([...tinyHalvingSweep([0], 3, 256), ...BOTH, '--out', dir]);
    assert.equal(r.status, 0, r.stderr);
    const got = results(dir);
    assert.equal(got.length, 6);
    const full = got.filter((x) => x.valAcc.length === 3);
    assert.equal(full.length, 3, 'the best half goes on');
    const state = JSON.parse(readFileSync(join(dir, 'halving.json'), 'utf8')) as {
      decisions: { standings: { id: unknown }[]; promoted: unknown[] }[];
    };
    const ranked = state.decisions[0]?.standings.map((s) => String(s.id)).sort();
    assert.deepEqual(ranked, ['1', '36', '38', 'linear:1', 'linear:18', 'linear:2']);
    assert.deepEqual(
      state.decisions[0]?.promoted.map(String).sort(),
      full.map(key).sort(),
      'who went on is who trained on',
    );
    // Resuming a finished halving study trains nothing and reads its state back.
    const again = runCli(['sweep', '--resume', dir, '--threads', '1', '--quiet']);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(results(dir).length, 6);
  });

  it('is analysed on the centre of mass, with the family as a group and held fixed in the effect', () => {
    const a = runCli(['analyze', whole, '--format', 'json']);
    assert.equal(a.status, 0, a.stderr);
    const analysis = JSON.parse(a.stdout) as {
      architectures: { id: number; key: unknown; family?: string; location: number | null }[];
      groups: { scheme: string; name: string; ids: unknown[] }[];
      location: { measure: string; covariates: string[] } | null;
    };
    const members = analysis.architectures.filter((x) => x.id !== 0);
    assert.equal(members.length, 6);
    assert.ok(members.every((x) => typeof x.location === 'number'));
    const families = analysis.groups.filter((g) => g.scheme === 'family');
    assert.deepEqual(
      families.map((g) => [g.name, g.ids.map(String).sort()]),
      [
        ['skew-normal', ['1', '36', '38']],
        ['linear', ['linear:1', 'linear:18', 'linear:2']],
      ],
    );
    assert.equal(analysis.location?.measure, 'centre');
    assert.ok(analysis.location.covariates.includes('family'));
    // --compare on the one folder: a row per family, each with its baseline.
    const c = runCli(['analyze', '--compare', whole, '--format', 'json']);
    assert.equal(c.status, 0, c.stderr);
    const compared = JSON.parse(c.stdout) as {
      studies: { family: string; members: number; baseline: unknown }[];
    };
    assert.deepEqual(
      compared.studies.map((s) => [s.family, s.members, s.baseline !== null]),
      [
        ['skew-normal', 3, true],
        ['linear', 3, true],
      ],
    );
    const html = join(whole, 'report.html');
    const r = runCli(['report', whole, '-o', html]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(html));
    const page = readFileSync(html, 'utf8');
    assert.match(page, /"key":"linear:18"/);
    assert.match(page, /"locateBy":"centre"/);
    assert.match(page, /"scheme":"family","name":"linear"/);
  });

  it('refuses an id its families do not have, and a family it does not draw from, in one line', () => {
    const missing = runCli([...sweep(1, 64), '--ids', '1,linear:99', '--out', tmp()]);
    assert.equal(missing.status, 2);
    assert.match(
      missing.stderr,
      /no architecture with id linear:99: the ids are the skew-normal family 1-\d+.* and the linear family linear:1-18/,
    );
    const other = runCli(['sweep', '--ids', 'linear:1', '--out', tmp()]);
    assert.equal(other.status, 2);
    assert.match(other.stderr, /names the linear family, which this study does not draw from/);
  });
});
