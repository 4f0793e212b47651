import assert from 'node:assert/strict';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  writeFileSync,
  mkdirSync,
  chmodSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Architecture } from '../src/family/skew-normal.js';
import { cheapestIds, tinyFamily, tinyStudy, tinySweep } from './helpers/tiny-study.js';
import { REFERENCE_COLUMNS, writeReferenceCsvs, type ResultRecord } from '../src/run/results.js';
import { runCli, startCli } from './helpers/cli.js';
import { cliPath } from './helpers/paths.js';
import { tcmallocHere } from './helpers/tcmalloc.js';
import { spawnSync } from 'node:child_process';
import { resultNumbers, results } from './helpers/results.js';
import { withTmpfs } from './helpers/tmpfs.js';
import { PNG } from 'pngjs';
import { countParams, vggPlan } from '../src/models/vgg-plan.js';
import { bf16Unsupported } from '../src/engine/runtime.js';

// Two cheap members of the VGG-10 family at 1/16 of its features.
const family = tinyFamily;
const cheap = cheapestIds(2).map((id) => family.find((a) => a.id === id) as Architecture);
const BASE = ['sweep', ...tinyStudy(cheap.map((a) => a.id)), '--threads', '1'];
const tiny = (epochs: number, train: number): string[] =>
  tinySweep(
    cheap.map((a) => a.id),
    epochs,
    train,
  );
const tmp = (): string => mkdtempSync(join(tmpdir(), 'featshift-sweep-'));

const REQUIRED_KEYS = [
  'id',
  'seed',
  'xi',
  'omega',
  'alpha',
  'widths',
  'capacity',
  'params',
  'macs',
  'bestVal',
  'bestValTrain',
  'bestEpoch',
  'lastVal',
  'lastTrain',
  'abandoned',
  'trainAcc',
  'valAcc',
  'trainLoss',
  'valLoss',
  'lr',
  'seconds',
];

describe("the reference's CSVs, whatever order the architectures finish in", () => {
  const record = (id: number, seed = 0): ResultRecord =>
    ({
      id,
      seed,
      xi: id,
      omega: 1,
      alpha: 0,
      widths: [id],
      capacity: id,
      bestVal: 50,
      bestValTrain: 50,
      bestEpoch: 0,
      lastVal: 50,
      lastTrain: 50,
      trainAcc: [50],
      valAcc: [50],
    }) as unknown as ResultRecord;
  const rows = (dir: string, id: number): string[] =>
    readFileSync(join(dir, `model_${String(id).padStart(3, '0')}.csv`), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => {
        const m = /^(\d+),"?\[(\d+)\.0\]/.exec(line);
        return `${m?.[1] ?? ''}:${m?.[2] ?? ''}`;
      });

  it('writes model_NNN.csv once every selected id up to NNN has finished, rows in id order', async () => {
    const dir = tmp();
    const selection = { ids: [2, 5, 9], seeds: [0] };
    const finished: ResultRecord[] = [];
    // Longest first on a queue, or a resume: 5 finishes before 2, and 9 last.
    finished.push(record(5));
    await writeReferenceCsvs(dir, finished, selection);
    assert.deepEqual(readdirSync(dir), [], 'no CSV while id 2 is missing');
    finished.push(record(2));
    await writeReferenceCsvs(dir, finished, selection);
    assert.deepEqual(readdirSync(dir).sort(), ['model_002.csv', 'model_005.csv']);
    assert.deepEqual(rows(dir, 5), ['0:2', '1:5']);
    finished.push(record(9));
    await writeReferenceCsvs(dir, finished, selection);
    assert.deepEqual(rows(dir, 2), ['0:2']);
    assert.deepEqual(rows(dir, 9), ['0:2', '1:5', '2:9']);
  });

  it('writes one set of reference CSVs per seed, each in its seed-S folder, when a run has several', async () => {
    const dir = tmp();
    const selection = { ids: [2, 5], seeds: [3, 8] };
    const finished = [record(2, 8), record(5, 8), record(2, 3)];
    await writeReferenceCsvs(dir, finished, selection);
    assert.deepEqual(readdirSync(dir).sort(), ['seed-3', 'seed-8']);
    assert.deepEqual(readdirSync(join(dir, 'seed-3')), ['model_002.csv']);
    assert.deepEqual(rows(join(dir, 'seed-8'), 5), ['0:2', '1:5']);
    finished.push(record(5, 3));
    await writeReferenceCsvs(dir, finished, selection);
    assert.deepEqual(rows(join(dir, 'seed-3'), 5), ['0:2', '1:5']);
  });
});

describe('featshift sweep, end to end on tiny architectures', () => {
  const reference = tmp();

  it('writes the run folder: configuration, environment, reference CSVs, results.jsonl', () => {
    const r = runCli([...tiny(2, 256), '--include-baseline', '--out', reference]);
    assert.equal(r.status, 0, r.stderr);
    const files = readdirSync(reference).sort();
    const csvs = [0, ...cheap.map((a) => a.id).sort((a, b) => a - b)].map(
      (id) => `model_${String(id).padStart(3, '0')}.csv`,
    );
    assert.deepEqual(files, ['config.json', 'environment.json', ...csvs, 'results.jsonl'].sort());
    const env = JSON.parse(readFileSync(join(reference, 'environment.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.match(String(env.libtorch), /^\d+\.\d+/);
    assert.equal(env.threads, 1);
    assert.deepEqual(env.seeds, [0]);
    const config = JSON.parse(readFileSync(join(reference, 'config.json'), 'utf8')) as {
      study: { epochs: number; lr: number; batchNorm: number };
    };
    assert.equal(config.study.epochs, 2);
    assert.equal(config.study.lr, 0.01);
    assert.equal(config.study.batchNorm, 1e-4);
    const records = results(reference);
    assert.deepEqual(
      records.map((x) => x.id),
      [0, ...cheap.map((a) => a.id).sort((a, b) => a - b)],
    );
    for (const rec of records) {
      for (const key of REQUIRED_KEYS) assert.ok(key in rec, `results.jsonl lacks ${key}`);
      assert.equal(rec.trainAcc.length, 2);
      assert.equal(rec.valAcc.length, 2);
      assert.equal(rec.bestVal, Math.max(...rec.valAcc));
      assert.equal(rec.lastVal, rec.valAcc[1]);
    }
    // The reference's CSV: pandas' index column, then its columns; cumulative.
    const last = readFileSync(join(reference, csvs[2] as string), 'utf8')
      .trim()
      .split('\n');
    assert.equal(last[0], ['', ...REFERENCE_COLUMNS].join(','));
    assert.equal(last.length, 4);
    assert.match(last[2] ?? '', /^1,"\[\d+\.0(, \d+\.0){8}\]",\d+\.0,\d+\.0,\d+(\.\d+)?,-?\d+\.0,/);
    assert.equal(
      readFileSync(join(reference, csvs[0] as string), 'utf8')
        .trim()
        .split('\n').length,
      2,
    );
    assert.equal(existsSync(join(reference, 'checkpoints')), false);
    assert.match(r.stdout, /rank\s+id\s+xi\s+omega\s+alpha\s+seeds\s+best val %/);
    assert.match(
      r.stdout,
      /Finding \(groups of architectures compared with 95 % intervals\):\n {2}Question: /,
    );
    assert.match(
      r.stdout,
      /No ranking: one seed per architecture cannot rank architectures: a single run has no interval/,
    );
  });

  it("gives the same numbers on glibc's malloc, run on Node directly, as through the command", () => {
    const direct = tmp();
    const r = spawnSync(
      process.execPath,
      [cliPath, ...tiny(2, 256), '--include-baseline', '--out', direct, '--quiet'],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(resultNumbers(results(direct)), resultNumbers(results(reference)));
    const allocator = (dir: string): unknown =>
      (JSON.parse(readFileSync(join(dir, 'environment.json'), 'utf8')) as { allocator: unknown })
        .allocator;
    // Where the machine has no tcmalloc both run on glibc, tensors in the block cache.
    const tensors = tcmallocHere ? 'tcmalloc' : 'block-cache';
    assert.deepEqual(allocator(direct), { tensors, malloc: 'glibc' });
    assert.deepEqual(allocator(reference), {
      tensors,
      malloc: tcmallocHere ? 'tcmalloc' : 'glibc',
    });
  });

  it('abandons an architecture below twice chance at the end of the first cycle', () => {
    const dir = tmp();
    const r = runCli([
      ...BASE,
      '--epochs',
      '3',
      '--lr-wr-epochs',
      '1',
      '--lr',
      '1e-7',
      '--train-subset',
      '256',
      '--val-subset',
      '128',
      '--out',
      dir,
      '--quiet',
    ]);
    assert.equal(r.status, 0, r.stderr);
    for (const rec of results(dir)) {
      assert.equal(rec.abandoned, true);
      assert.equal(rec.trainAcc.length, 1);
    }
  });

  it('resumes after SIGKILL mid-architecture with exactly the results of an uninterrupted run', async () => {
    const whole = tmp();
    assert.equal(runCli([...tiny(4, 1024), '--out', whole, '--quiet']).status, 0);
    const killed = tmp();
    const second = `arch_${String(cheap.map((a) => a.id).sort((a, b) => a - b)[1]).padStart(3, '0')}_seed_0.safetensors`;
    const { child, exited } = await startCli(
      [...tiny(4, 1024), '--out', killed, '--json-log'],
      () => existsSync(join(killed, 'checkpoints', second)),
    );
    child.kill('SIGKILL');
    assert.equal(await exited, -9);
    assert.equal(results(killed).length, 1, 'the first architecture was finished and recorded');
    const r = runCli(['sweep', '--resume', killed, '--threads', '1', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(resultNumbers(results(killed)), resultNumbers(results(whole)));
    assert.equal(existsSync(join(killed, 'checkpoints')), false);
  });

  it('stops cleanly on Ctrl-C mid-epoch and resumes to the same results', async () => {
    const whole = tmp();
    assert.equal(runCli([...tiny(2, 1024), '--out', whole, '--quiet']).status, 0);
    const dir = tmp();
    const { child, exited } = await startCli(
      [...tiny(2, 1024), '--out', dir, '--json-log'],
      (out) => out.includes('"event":"epoch"'),
    );
    child.kill('SIGINT');
    assert.equal(await exited, 130);
    assert.ok(readdirSync(join(dir, 'checkpoints')).length === 1);
    const r = runCli(['sweep', '--resume', dir, '--threads', '1', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(resultNumbers(results(dir)), resultNumbers(results(whole)));
  });

  it('trains every (architecture, seed) once with --seeds, each as a separate run of that seed would', () => {
    const ids = cheap.map((a) => a.id).sort((a, b) => a - b);
    const dir = tmp();
    const r = runCli([...tiny(1, 256), '--seeds', '3', '--out', dir, '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    const got = results(dir);
    assert.deepEqual(
      got.map((x) => `${x.id}/${x.seed}`),
      [0, 1, 2].flatMap((seed) => ids.map((id) => `${id}/${seed}`)),
      'seed by seed, one line each',
    );
    assert.match(r.stdout, /=best|better than every other|cannot/);
    assert.match(r.stdout, /± \d/);
    const alone = tmp();
    const one = runCli([
      ...tiny(1, 256),
      '--ids',
      String(ids[1]),
      '--seed',
      '1',
      '--out',
      alone,
      '--quiet',
    ]);
    assert.equal(one.status, 0, one.stderr);
    assert.deepEqual(
      resultNumbers(got.filter((x) => x.id === ids[1] && x.seed === 1)),
      resultNumbers(results(alone)),
    );
    assert.deepEqual(readdirSync(join(dir, 'seed-2')).sort(), [
      `model_${String(ids[0]).padStart(3, '0')}.csv`,
      `model_${String(ids[1]).padStart(3, '0')}.csv`,
    ]);
    // More seeds on resume train only the new ones; fewer are refused.
    const more = runCli([
      'sweep',
      '--resume',
      dir,
      '--seeds',
      '0,1,2,5',
      '--threads',
      '1',
      '--quiet',
    ]);
    assert.equal(more.status, 0, more.stderr);
    const extended = results(dir);
    assert.equal(extended.length, 8);
    assert.deepEqual(resultNumbers(extended.slice(0, 6)), resultNumbers(got));
    assert.deepEqual(
      extended.slice(6).map((x) => x.seed),
      [5, 5],
    );
    const fewer = runCli(['sweep', '--resume', dir, '--seeds', '2']);
    assert.equal(fewer.status, 2);
    assert.match(fewer.stderr, /would drop seeds 2, 5 it was started with/);
  });

  it("times an architecture's layouts once: its other seeds train in the same layout with the same micro-batch", () => {
    const dir = tmp();
    const args = tiny(1, 256).map((a, i, all) => (all[i - 1] === '--layout' ? 'auto' : a));
    const r = runCli([...args, '--seeds', '2', '--out', dir, '--json-log']);
    assert.equal(r.status, 0, r.stderr);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; id?: number; seed?: number });
    const of = (event: string, id: number, seed: number): Record<string, unknown> => {
      const e = events.find((x) => x.event === event && x.id === id && x.seed === seed);
      assert.ok(e, `${event} of id ${id}, seed ${seed}`);
      return Object.fromEntries(
        Object.entries(e as Record<string, unknown>).filter(([k]) => k !== 'time' && k !== 'seed'),
      );
    };
    for (const id of cheap.map((a) => a.id)) {
      const layout = of('layout', id, 0);
      assert.ok(Object.keys(layout.msPerStep as object).length === 2, 'both layouts timed');
      assert.deepEqual(of('layout', id, 1), layout);
      const memory = of('memory', id, 0);
      assert.equal(memory.split, false);
      assert.deepEqual(of('memory', id, 1), memory);
    }
    const got = results(dir);
    for (const x of got.filter((g) => g.seed === 1)) {
      const first = got.find((g) => g.id === x.id && g.seed === 0);
      assert.equal(x.layout, first?.layout);
    }
  });

  it('refuses to resume with options that would change the results, and folders that are not runs', () => {
    const r = runCli(['sweep', '--resume', reference, '--epochs', '5']);
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /resuming .* with other epochs than it was started with would change its results/,
    );
    const empty = tmp();
    const s = runCli(['sweep', '--resume', empty]);
    assert.equal(s.status, 2);
    assert.match(s.stderr, /is not a featshift run folder/);
    // Resuming a finished run trains nothing more.
    const again = runCli(['sweep', '--resume', reference, '--quiet']);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(results(reference).length, 3);
  });

  it('records the BLAS libtorch multiplies with, and resumes only under it', () => {
    const env = JSON.parse(readFileSync(join(reference, 'environment.json'), 'utf8')) as {
      blas: { name: string; path: string | null };
    };
    const config = JSON.parse(readFileSync(join(reference, 'config.json'), 'utf8')) as {
      numerics: { blas: { name: string; path: string | null } };
    };
    assert.equal(typeof env.blas.name, 'string');
    assert.deepEqual(config.numerics.blas, env.blas);
    // The same folder, as if started where another BLAS was selected.
    const moved = tmp();
    for (const f of readdirSync(reference))
      writeFileSync(join(moved, f), readFileSync(join(reference, f)));
    config.numerics.blas = { name: 'OpenBLAS', path: '/opt/other/libopenblas.so.0' };
    writeFileSync(join(moved, 'config.json'), JSON.stringify(config));
    const r = runCli(['sweep', '--resume', moved, '--quiet']);
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /this run trained with OpenBLAS \(\/opt\/other\/libopenblas\.so\.0\); this machine's libtorch uses .*which would change its numbers: select the run's BLAS again/,
    );
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  it('trains the whole batch whatever the free memory, so that two hosts give the same numbers', () => {
    const roomy = tmp();
    const tight = tmp();
    const a = runCli([...tiny(1, 256), '--memory-limit', '16G', '--out', roomy, '--quiet']);
    const b = runCli([...tiny(1, 256), '--memory-limit', '200M', '--out', tight, '--quiet']);
    assert.equal(a.status, 0, a.stderr);
    assert.equal(b.status, 0, b.stderr);
    assert.deepEqual(
      results(roomy).map((x) => x.microBatch),
      [64, 64],
    );
    assert.deepEqual(resultNumbers(results(tight)), resultNumbers(results(roomy)));
  });

  it('refuses a memory limit the micro-batch does not fit, and splits only when allowed', () => {
    const refused = tmp();
    const r = runCli([...tiny(1, 256), '--memory-limit', '3M', '--out', refused]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      r.stderr,
      /a micro-batch of 64 images needs [\d.]+ GiB, more than the memory budget of 0\.00 GiB: .*--allow-split/,
    );
    // The error is one line; the study's pre-flight warnings (one seed, several ids) precede it.
    const errors = r.stderr
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('featshift: warning:'));
    assert.equal(errors.length, 1, r.stderr);
    const dir = tmp();
    const s = runCli([...tiny(1, 256), '--memory-limit', '3M', '--allow-split', '--out', dir]);
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stdout, /memory: micro-batch \d+, measured/);
    assert.match(s.stdout, /split: the study's micro-batch did not fit this machine/);
    assert.ok(
      results(dir).every((x) => x.microBatch < 64),
      s.stdout,
    );
    const none = runCli([...tiny(1, 256), '--memory-limit', '1K', '--allow-split', '--out', tmp()]);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /not even a micro-batch of 1 fits the memory budget/);
  });

  it('trains in the micro-batch a study asks for, a divisor of the batch', () => {
    const dir = tmp();
    const r = runCli([...tiny(1, 256), '--micro-batch', '16', '--out', dir, '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      results(dir).map((x) => x.microBatch),
      [16, 16],
    );
    const bad = runCli([...tiny(1, 256), '--micro-batch', '24', '--out', tmp()]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /a micro-batch of 24 does not divide the batch size 64/);
  });

  it('times both layouts with --layout auto and trains each architecture in the faster', () => {
    const dir = tmp();
    const r = runCli([...tiny(1, 256), '--layout', 'auto', '--out', dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /layout: (nchw|channels-last) \(a training step: nchw \d+ ms, channels-last \d+ ms\)/,
    );
    for (const rec of results(dir)) {
      const times = rec.layoutMsPerStep ?? {};
      assert.ok((times.nchw ?? 0) > 0 && (times['channels-last'] ?? 0) > 0, JSON.stringify(times));
      const faster = (times['channels-last'] ?? 0) < (times.nchw ?? 0) ? 'channels-last' : 'nchw';
      assert.equal(rec.layout, faster);
    }
    const bad = runCli([...tiny(1, 256), '--layout', 'nhwc', '--out', tmp()]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /Allowed choices are auto, nchw, channels-last/);
  });

  it("trains without batch norm with --batch-norm 0, as the reference's option does", () => {
    const dir = tmp();
    const r = runCli([...tiny(1, 256), '--batch-norm', '0', '--out', dir, '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    const recs = results(dir);
    assert.equal(recs.length, 2);
    for (const rec of recs) {
      assert.equal(rec.params, countParams(vggPlan(rec.widths, { batchNorm: false })));
      assert.ok(rec.params < countParams(vggPlan(rec.widths)));
      assert.ok(rec.valAcc.every(Number.isFinite));
    }
  });

  it('trains in bf16 mixed precision where the CPU has it, and refuses it in one line where not', () => {
    const dir = tmp();
    const r = runCli([...tiny(2, 512), '--precision', 'bf16', '--out', dir, '--quiet']);
    if (bf16Unsupported('cpu') === null) {
      assert.equal(r.status, 0, r.stderr);
      const recs = results(dir);
      assert.equal(recs.length, 2);
      for (const rec of recs) assert.ok(rec.valAcc.every((v) => Number.isFinite(v) && v > 0));
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as {
        study: { precision: string };
      };
      assert.equal(config.study.precision, 'bf16');
      // Not fp32's numbers: the convolutions really ran in bf16.
      const fp32 = tmp();
      assert.equal(runCli([...tiny(2, 512), '--out', fp32, '--quiet']).status, 0);
      assert.notDeepEqual(
        recs.map((x) => x.trainLoss),
        results(fp32).map((x) => x.trainLoss),
      );
    } else {
      assert.equal(r.status, 2);
      assert.match(r.stderr, /--precision bf16 needs a CPU with AVX-512 BF16 or AMX/);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
  });

  it('refuses bf16 on a CUDA GPU below compute capability 8, as its driver reports it', () => {
    const bin = tmp();
    const fake = join(bin, 'nvidia-smi');
    writeFileSync(fake, '#!/bin/sh\necho "$*" > "$(dirname "$0")/args"\necho "$FAKE_CC"\n');
    chmodSync(fake, 0o755);
    const saved = { PATH: process.env.PATH, CUDA: process.env.CUDA_VISIBLE_DEVICES };
    process.env.PATH = `${bin}:${saved.PATH ?? ''}`;
    try {
      process.env.FAKE_CC = '7.5';
      assert.match(
        bf16Unsupported('cuda:0') ?? '',
        /cuda:0 has compute capability 7\.5, below 8\.0/,
      );
      process.env.FAKE_CC = '9.0';
      assert.equal(bf16Unsupported('cuda:0'), null);
      // cuda:1 of CUDA_VISIBLE_DEVICES=3,5 is the driver's device 5.
      process.env.CUDA_VISIBLE_DEVICES = '3,5';
      bf16Unsupported('cuda:1');
      assert.match(readFileSync(join(bin, 'args'), 'utf8'), /-i 5\b/);
      process.env.FAKE_CC = 'N/A';
      assert.equal(bf16Unsupported('cuda:0'), null, 'a driver that cannot say: taken as able');
    } finally {
      process.env.PATH = saved.PATH;
      if (saved.CUDA === undefined) delete process.env.CUDA_VISIBLE_DEVICES;
      else process.env.CUDA_VISIBLE_DEVICES = saved.CUDA;
      delete process.env.FAKE_CC;
    }
  });

  it('trains on image folders given with --train-data and --val-data', () => {
    const root = tmp();
    // Two classes that differ in brightness, images of several shapes.
    for (const [split, n] of [
      ['train', 64],
      ['val', 16],
    ] as const) {
      for (const [label, cls] of ['dark', 'light'].entries()) {
        const dir = join(root, split, cls);
        mkdirSync(dir, { recursive: true });
        for (let i = 0; i < n; i++) {
          const png = new PNG({ width: 30 + (i % 7), height: 28 + (i % 5) });
          for (let p = 0; p < png.data.length; p++)
            png.data[p] = p % 4 === 3 ? 255 : (label === 0 ? 30 : 200) + ((p * 7 + i) % 40);
          writeFileSync(join(dir, `${String(i).padStart(3, '0')}.png`), PNG.sync.write(png));
        }
      }
    }
    const out = tmp();
    const args = [
      'sweep',
      '--depth',
      '10',
      '--width-multiplier',
      '0.0625',
      '--ids',
      String(cheap[0]?.id),
    ];
    const folders = (dir: string): string[] => [
      ...args,
      '--train-data',
      join(root, 'train'),
      '--val-data',
      join(root, 'val'),
      '--epochs',
      '1',
      '--batch-size',
      '32',
      '--threads',
      '1',
      '--out',
      dir,
      '--quiet',
    ];
    const r = runCli(folders(out));
    assert.equal(r.status, 0, r.stderr);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as {
      study: { dataset: string; trainData: string };
    };
    assert.equal(config.study.dataset, 'ImageFolder');
    assert.equal(config.study.trainData, join(root, 'train'));
    const [rec] = results(out);
    assert.ok(rec);
    assert.equal(rec.valAcc.length, 1);
    // Two classes: the class layer has two outputs.
    assert.equal(rec.params, countParams(vggPlan(rec.widths, { classes: 2 })));
    const half = runCli([...args, '--train-data', join(root, 'train'), '--out', tmp()]);
    assert.equal(half.status, 2);
    assert.match(half.stderr, /needs both --train-data DIR and --val-data DIR/);
    // A file whose header reads but whose data is cut short is named when a batch reaches it.
    const whole = readFileSync(join(root, 'val', 'light', '003.png'));
    writeFileSync(join(root, 'val', 'light', '003.png'), whole.subarray(0, whole.length - 30));
    const cut = runCli(folders(tmp()));
    assert.equal(cut.status, 2, cut.stderr);
    assert.match(cut.stderr, /^featshift: .*val\/light\/003\.png: unreadable image/m);
    assert.equal(
      cut.stderr
        .trim()
        .split('\n')
        .filter((l) => !l.includes('warning')).length,
      1,
    );
  });

  it('records a diverging architecture and goes on', () => {
    const dir = tmp();
    const r = runCli([...tiny(2, 256), '--lr', '1e30', '--out', dir, '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    const recs = results(dir);
    assert.equal(recs.length, 2);
    assert.ok(recs.every((x) => x.diverged));
  });

  const bad: [string, string[], RegExp][] = [
    ['an unknown dataset', ['sweep', '--dataset', 'ImageNet21k'], /unknown dataset 'ImageNet21k'/],
    ['impossible ids', [...BASE, '--ids', '9999', '--epochs', '1'], /no architecture with id 9999/],
    ['a malformed id list', [...BASE, '--ids', '3-1'], /runs backwards/],
    ['id 0 without the baseline', [...BASE, '--ids', '0'], /needs --include-baseline/],
    ['no seeds', [...BASE, '--seeds', '0'], /--seeds takes 1 to 1000 seeds, got 0/],
    ['a seed named twice', [...BASE, '--seeds', '3,7,3'], /names a seed twice/],
    ['seeds that are no list', [...BASE, '--seeds', 'a,b'], /is neither a count nor a list/],
  ];
  for (const [what, args, message] of bad) {
    it(`refuses ${what} with one line and exit code 2`, () => {
      const r = runCli([...args, '--out', join(tmp(), 'x')]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    });
  }

  it('refuses an --out folder that already holds files', () => {
    const dir = tmp();
    mkdirSync(join(dir, 'a'));
    writeFileSync(join(dir, 'a', 'f'), 'x');
    const r = runCli([...tiny(1, 256), '--out', join(dir, 'a')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /already holds files/);
  });

  it('stops with a clear message on a full disk, leaving every written file whole', (t) => {
    // A 96 KiB tmpfs holds the configuration but not the first checkpoint.
    withTmpfs(t, 'size=96k', (mountPoint) => {
      const dir = join(mountPoint, 'run');
      const r = runCli([...tiny(3, 256), '--out', dir]);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(
        r.stderr,
        /no space left on the device while writing to .*run: what was already written is intact; free some space, then resume with featshift sweep --resume/,
      );
      JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      const leftovers = readdirSync(dir, { recursive: true })
        .map(String)
        .filter((f) => f.endsWith('.tmp'));
      assert.deepEqual(leftovers, []);
    });
  });
});
