import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { UsageError } from '../src/errors.js';

import { preflight } from '../src/run/preflight.js';

import { embeddedDefaultStudy, REFERENCE_DEFAULTS, type StudyConfig } from '../src/run/study.js';

import { runCli } from './helpers/cli.js';
import { repoRoot } from './helpers/paths.js';
import { results } from './helpers/results.js';

import { tinyStudy } from './helpers/tiny-study.js';

/**
 * Answers on equal terms (issue: answers): what featshift prints to compare architectures says
 * what the data cannot decide, and a study that cannot do what was asked is stopped before it
 * trains.
 */

const tmp = (): string => mkdtempSync(join(tmpdir(), 'featshift-answers-'));

const study = (over: Partial<StudyConfig>): StudyConfig => ({ ...REFERENCE_DEFAULTS, ...over });

describe('pre-flight: a study judged from its options before anything trains', () => {
  it('refuses --halving without a rung before the last epoch, naming the options that give one', () => {
    assert.throws(
      () => preflight(study({ halving: true, epochs: 2 })),
      (e: unknown) =>
        e instanceof UsageError &&
        /--halving has no rung before the last epoch: .* end at epochs 10, 30, 70, none before --epochs 2; give more --epochs, a shorter --lr-wr-epochs, or drop --halving/.test(
          e.message,
        ),
    );
    const out = join(tmp(), 'run');
    const r = runCli([
      'sweep',
      '--dataset',
      'FashionMNIST',
      '--halving',
      '--epochs',
      '2',
      '--out',
      out,
    ]);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /--halving has no rung before the last epoch/);
    assert.equal(existsSync(out), false);
  });

  it('warns when the abandon rule judges every run at the first rung after few steps, and not otherwise', () => {
    const short = study({
      dataset: 'FashionMNIST',
      halving: true,
      epochs: 7,
      lrWrEpochs: 1,
      lrWrMul: 2,
      trainSubset: 1024,
      seeds: [0, 1, 2],
    });
    assert.match(
      preflight(short).join('\n'),
      /abandon rule judges every run at epoch 1, the first rung, after only 8 optimiser steps/,
    );
    assert.equal(preflight({ ...short, abandon: false }).length, 0);
    // The paper's CIFAR-10 study halved at its cycle ends: 3900 steps before the verdict.
    assert.deepEqual(preflight(study({ halving: true, seeds: [0, 1, 2] })), []);
  });

  it('warns when --epochs ends before the first cycle, and when fewer than 3 seeds must rank', () => {
    assert.match(
      preflight(study({ epochs: 2 })).join('\n'),
      /--epochs 2 ends before the first warm-restart cycle \(--lr-wr-epochs 10\)/,
    );
    assert.match(
      preflight(study({ epochs: 10, ids: '1-3', seeds: [0, 1] })).join('\n'),
      /2 seeds per architecture cannot rank architectures/,
    );
    assert.deepEqual(
      preflight(study({ epochs: 10, ids: '4' })),
      [],
      'one architecture has nothing to rank',
    );
    // The embedded default compares locations over their architectures; its two seeds say so.
    const embedded = preflight(embeddedDefaultStudy());
    assert.equal(embedded.length, 1, embedded.join('\n'));
    assert.match(
      embedded[0] ?? '',
      /^2 seeds per architecture cannot rank architectures: .*groups of architectures are still compared/,
    );
  });

  it('prints its warnings when the run starts, once, on standard error', () => {
    const out = join(tmp(), 'run');
    const r = runCli([
      'sweep',
      ...tinyStudy([1, 2]),
      '--epochs',
      '1',
      '--train-subset',
      '128',
      '--val-subset',
      '64',
      '--threads',
      '1',
      '--quiet',
      '--out',
      out,
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: --epochs 1 ends before the first warm-restart cycle/);
    assert.match(r.stderr, /warning: one seed per architecture cannot rank architectures/);
    assert.equal(r.stderr.match(/cannot rank/g)?.length, 1);
  });
});

describe("the halving page's commands do what they say", () => {
  const section = readFileSync(join(repoRoot, 'docs', 'halving.md'), 'utf8');
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const commands = block
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l.startsWith('featshift sweep'))
    .map((l) => l.split(/\s+/).slice(1));

  it('has the two commands', () => {
    assert.equal(commands.length, 2, block);
  });

  it('the Fashion-MNIST example, run as written, trains past the first rung without a warning', () => {
    const args = commands.find((c) => c.includes('FashionMNIST'));
    assert.ok(args);
    const out = join(tmp(), 'run');
    const r = runCli([...args, '--layout', 'nchw', '--quiet', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /abandon rule/);
    const trained = results(out).map((x) => x.valAcc.length);
    assert.equal(trained.length, 6);
    assert.ok(trained.filter((n) => n > 1).length >= 2, `epochs trained: ${trained.join(', ')}`);
    assert.ok(trained.includes(7), `epochs trained: ${trained.join(', ')}`);
  });

  it('the CIFAR-10 example passes the pre-flight (its data are not offline: it stops at the data)', () => {
    const args = commands.find((c) => c.includes('CIFAR10'));
    assert.ok(args);
    const r = runCli([...args, '--data-dir', tmp(), '--out', join(tmp(), 'run')]);
    assert.doesNotMatch(r.stderr, /--halving has no rung|warning/);
    assert.match(r.stderr, /CIFAR/);
  });
});

describe('halving runs compared on equal terms (tiny family)', () => {
  it('analyze, the summary and the report compare every run at the first rung, and rank survivors apart', async () => {
    const { cheapestIds, tinyHalvingSweep } = await import('./helpers/tiny-study.js');
    const { loadStudy } = await import('../src/run/load.js');
    const { reportData } = await import('../src/report/html.js');
    const out = join(tmp(), 'run');
    const sweep = runCli([...tinyHalvingSweep(cheapestIds(4), 3, 256), '--out', out]);
    assert.equal(sweep.status, 0, sweep.stderr);
    assert.match(
      sweep.stdout,
      /every run is ranked on its numbers at epoch 1, the rung all reached/,
    );
    const lines = results(out);
    assert.ok(lines.some((r) => r.valAcc.length === 3) && lines.some((r) => r.valAcc.length === 1));
    const atFirst = new Map(lines.map((r) => [r.id, r.valAcc[0] ?? NaN]));
    const r = runCli(['analyze', out, '--format', 'json']);
    assert.equal(r.status, 0, r.stderr);
    const a = JSON.parse(r.stdout) as {
      architectures: { id: number; bestVal: { mean: number } }[];
      halving: {
        commonEpoch: number;
        stopped: { epoch: number; ids: number[] }[];
        survivors: { epoch: number; architectures: { id: number; bestVal: { mean: number } }[] }[];
      };
      groups: { runs: number }[];
      finding: string[];
    };
    assert.equal(a.halving.commonEpoch, 1);
    for (const x of a.architectures)
      assert.equal(x.bestVal.mean, atFirst.get(x.id), `id ${x.id} at epoch 1`);
    const stoppedAt1 = lines
      .filter((x) => x.stoppedAtRung === 1)
      .map((x) => x.id)
      .sort((p, q) => p - q);
    assert.deepEqual(a.halving.stopped, [{ epoch: 1, ids: stoppedAt1 }]);
    const survivors = a.halving.survivors.find((s) => s.epoch === 3);
    assert.ok(survivors);
    for (const x of survivors.architectures) {
      const full = lines.find((l) => l.id === x.id);
      assert.ok(full);
      assert.equal(full.valAcc.length, 3);
      assert.equal(x.bestVal.mean, Math.max(...full.valAcc));
    }
    assert.match(a.finding.join('\n'), /compares each run at epoch 1, which every run reached/);
    const page = reportData([loadStudy(out)]).runs[0];
    for (const x of page?.architectures ?? []) assert.equal(x.bestVal, atFirst.get(x.id));
    assert.ok(
      page?.architectures.some((x) => x.valAcc.length === 3),
      'curves run to where each run stopped',
    );
  });
});
