import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DataError } from '../src/data/errors.js';
import { byCodePoint, loadImageFolders } from '../src/data/image-folder.js';
import { UsageError } from '../src/errors.js';
import { serveReport } from '../src/report/server.js';
import { halvingStateProblem, type HalvingState } from '../src/run/halving-state.js';
import { loadStudy } from '../src/run/load.js';
import { readResults, resultLineProblem, type ResultRecord } from '../src/run/results.js';
import { promote } from '../src/sweep/halving.js';
import { printable } from '../src/util/printable.js';
import { runCli } from './helpers/cli.js';
import { tinyRecord, tinyRunFolder } from './helpers/results.js';
import { startRedis, type RedisServer } from './helpers/redis.js';
import { cheapestIds, tinyFamily, tinyHalvingSweep } from './helpers/tiny-study.js';

/**
 * The second hostile pass (issue: hardening, second pass): every file featshift reads back is
 * checked by one validator, one process writes a run folder, images have limits, and every
 * refusal is one line with exit code 2 that destroys nothing.
 */

const tmp = (): string => mkdtempSync(join(tmpdir(), 'featshift-reads-'));

/** One line of stderr, exit code 2, matching `message`. */
function assertUsage(
  r: { status: number | null; stderr: string; stdout: string },
  message: RegExp,
): void {
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stderr, message);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
}

const line = (r: object): string => JSON.stringify(r);

describe('results.jsonl: one validator for the sweep and every reader (D5, D8)', () => {
  const good = tinyRecord(1, 0, 60);
  const bad: [string, object, RegExp][] = [
    ['a line without bestVal', { ...good, bestVal: undefined }, /bestVal is missing/],
    ['bestVal as a string', { ...good, bestVal: '60' }, /bestVal "60" is no accuracy/],
    ['an accuracy of 1e308', { ...good, bestVal: 1e308, valAcc: [1e308] }, /between 0 and 100/],
    ['a negative accuracy', { ...good, valAcc: [-50, 60] }, /between 0 and 100/],
    [
      'a best above its own curve',
      { ...good, bestVal: 99.9 },
      /bestVal 99.9 is not the highest of its valAcc \(60\)/,
    ],
    ['a best epoch past the curve', { ...good, bestEpoch: 7 }, /bestEpoch 7 is no epoch/],
    ['curves of different lengths', { ...good, trainAcc: [1] }, /differ in length/],
    ['widths that are not counts', { ...good, widths: [2, 'x'] }, /widths/],
    ['a fractional id', { ...good, id: 1.5 }, /id 1.5 is no id/],
  ];
  for (const [what, value, message] of bad) {
    it(`refuses ${what}`, () => {
      assert.match(resultLineProblem(value) ?? '', message);
    });
  }

  it("refuses an id or a seed that is not the study's, where the folder says what the study is", () => {
    assert.match(
      resultLineProblem({ ...good, id: 9 }, { ids: [1, 2] }) ?? '',
      /id 9 is not an architecture of this study/,
    );
    assert.match(
      resultLineProblem({ ...good, seed: 4 }, { seeds: [0, 1] }) ?? '',
      /seed 4 is not a seed of this study/,
    );
    assert.equal(resultLineProblem(good, { ids: [1], seeds: [0] }), undefined);
  });

  it('the analysis skips each bad line with a warning naming the file and line, and counts only the rest', () => {
    const dir = tinyRunFolder([
      line(good),
      line({ ...tinyRecord(2, 0, 70), bestVal: '95' }),
      line({ ...tinyRecord(3, 0, 55), bestVal: 99.9 }),
      line(tinyRecord(2, 1, 71)),
      line(tinyRecord(2, 4, 90)), // a seed the study does not have
      line(tinyRecord(9, 0, 90)), // an architecture the study does not have
      line({ ...tinyRecord(1, 0, 90) }), // (1, 0) again
    ]);
    const run = loadStudy(dir);
    assert.deepEqual(
      run.runs.map((a) => [a.id, a.seed, a.bestVal]),
      [
        [1, 0, 60],
        [2, 1, 71],
      ],
    );
    assert.equal(run.planned, 6);
    const where = run.warnings.map((w) => /results\.jsonl:(\d+)/.exec(w)?.[1]).join(',');
    assert.equal(where, '2,3,5,6,7');
    assert.match(
      run.warnings.join('\n'),
      /:7: skipped a line: id 1, seed 0 is already recorded on line 1/,
    );
  });

  it('a resume refuses the same lines, naming the file and line, and trains nothing', () => {
    for (const [bad, message] of [
      [
        line({ ...tinyRecord(2, 0, 70), bestVal: 99.9 }),
        /results\.jsonl:2: not a featshift result line: bestVal 99\.9/,
      ],
      [
        line(tinyRecord(9, 0, 90)),
        /results\.jsonl:2: not a featshift result line: id 9 is not an architecture of this study/,
      ],
      [
        line(good),
        /results\.jsonl:2: not a featshift result line: id 1, seed 0 is recorded again \(first on line 1\)/,
      ],
    ] as const) {
      const dir = tinyRunFolder([line(good), bad]);
      assert.throws(
        () => readResults(dir, 0, { ids: [1, 2, 3], seeds: [0, 1] }),
        (e: unknown) => {
          assert.ok(e instanceof UsageError);
          assert.match(e.message, message);
          return true;
        },
      );
    }
  });

  it("the original's CSVs: no accuracy of nan, inf, Infinity, an empty cell or -50, and seed-01 is no seed folder", () => {
    const dir = tmp();
    const header =
      ',Filters,Parameters,Mean,Variance,Skew,BestVal,BestValsTrain,BestEpoch,LastValPrec,LastTrainPrec,AllTrain,AllVal';
    const widths = `"[${(tinyFamily[0]?.widths ?? []).join(', ')}]"`;
    const row = (best: string): string =>
      `0,${widths},1000.0,1.0,1.0,0.0,${best},70.0,1,60.0,70.0,"[50.0, 70.0]","[40.0, 60.0]"`;
    const values = ['nan', 'inf', 'Infinity', '', '-50', '60.0'];
    for (const [i, best] of values.entries())
      writeFileSync(join(dir, `model_00${i + 1}.csv`), `${header}\n${row(best)}\n`);
    const run = loadStudy(dir);
    assert.deepEqual(
      run.runs.map((a) => [a.id, a.bestVal]),
      [[6, 60]],
    );
    assert.equal(
      run.warnings.filter((w) => /BestVal '.*' is no accuracy between 0 and 100/.test(w)).length,
      5,
    );

    const seeded = tmp();
    for (const folder of ['seed-1', 'seed-01']) {
      mkdirSync(join(seeded, folder));
      writeFileSync(join(seeded, folder, 'model_001.csv'), `${header}\n${row('60.0')}\n`);
    }
    const s = loadStudy(seeded);
    assert.deepEqual(
      s.runs.map((a) => [a.id, a.seed]),
      [[1, 1]],
    );
    assert.match(s.warnings.join('\n'), /seed-01: skipped, not a seed folder/);
  });
});

describe('config.json read back by the analysis, the report and the viewer (D6)', () => {
  it('a depth of 1e9 is one line and exit 2 in analyze and report, never a crash', () => {
    const dir = tinyRunFolder([line(tinyRecord(1, 0, 60))], { depth: 1e9 });
    for (const args of [
      ['analyze', dir],
      ['report', dir, '-o', join(tmp(), 'r.html')],
    ]) {
      assertUsage(
        runCli(args),
        /config\.json: study\.depth must be between 10 and 100, got 1000000000/,
      );
    }
  });

  it('the viewer keeps its last good data when config.json turns bad under it', async () => {
    const dir = tinyRunFolder([line(tinyRecord(1, 0, 60)), line(tinyRecord(2, 0, 65))]);
    const view = await serveReport([dir], '127.0.0.1', 0);
    try {
      const get = async (): Promise<{ runs: { architectures: unknown[]; warnings: string[] }[] }> =>
        (await (await fetch(new URL('/data.json', view.url))).json()) as {
          runs: { architectures: unknown[]; warnings: string[] }[];
        };
      assert.equal((await get()).runs[0]?.architectures.length, 2);
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as {
        study: { depth: number };
      };
      config.study.depth = 1e9;
      writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
      const after = (await get()).runs[0];
      assert.equal(after?.architectures.length, 2);
      assert.match(
        after.warnings.join('\n'),
        /study\.depth must be between 10 and 100.*showing the last results read/,
      );
    } finally {
      await view.close();
    }
  });
});

describe('analyze pools one study only (D1) and never overwrites a run (D9)', () => {
  const a = (): string => tinyRunFolder([line(tinyRecord(1, 0, 60)), line(tinyRecord(1, 1, 62))]);

  it('refuses folders whose families differ under the same ids, whatever --pool says', () => {
    const wide = tinyRunFolder(
      [line({ ...tinyRecord(1, 2, 61), widths: tinyRecord(1, 2, 61).widths.map((w) => 2 * w) })],
      { widthMultiplier: 0.125, seeds: [2] },
    );
    for (const extra of [[], ['--pool']]) {
      assertUsage(
        runCli(['analyze', a(), wide, ...extra]),
        /id 1 has widths .* and .*: these folders hold different families/,
      );
    }
  });

  it('refuses folders whose options differ, naming them; --pool pools them and says what differs, in text and JSON', () => {
    const other = tinyRunFolder([line(tinyRecord(1, 2, 61))], { lr: 0.05, seeds: [2] });
    const first = a();
    assertUsage(
      runCli(['analyze', first, other]),
      /not one study: they differ in lr \(0\.01 in .*, 0\.05 in .*\); .* --pool/,
    );
    const text = runCli(['analyze', first, other, '--pool']);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stderr, /warning: pooled with --pool although the studies differ in lr/);
    const json = runCli(['analyze', first, other, '--pool', '--format', 'json']);
    assert.match(
      (JSON.parse(json.stdout) as { warnings: string[] }).warnings.join('\n'),
      /differ in lr/,
    );
  });

  it("prints the analysis's warnings in text too: a run found in two folders is counted once, and said", () => {
    const first = a();
    const r = runCli(['analyze', first, first]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: .*id 1, seed 0 also in an earlier folder; counted once/);
  });

  it("-o refuses the run folder's own files and folders, and a folder as the output", () => {
    const dir = a();
    const before = readFileSync(join(dir, 'results.jsonl'), 'utf8');
    assertUsage(
      runCli(['analyze', dir, '-o', join(dir, 'results.jsonl')]),
      /the run folder's own results\.jsonl: writing there would destroy the run/,
    );
    assertUsage(runCli(['report', dir, '-o', join(dir, 'config.json')]), /own config\.json/);
    assertUsage(
      runCli(['report', dir, '-o', join(dir, 'seed-1', 'x.html')]),
      /inside the run folder's own seed-1/,
    );
    assertUsage(runCli(['analyze', dir, '-o', tmp()]), /is a folder: give a file name/);
    assert.equal(readFileSync(join(dir, 'results.jsonl'), 'utf8'), before);
    const ok = runCli(['report', dir, '-o', join(dir, 'mine.html')]);
    assert.equal(ok.status, 0, ok.stderr);
  });

  it('--bootstrap-seed takes 32-bit seeds only', () => {
    for (const seed of ['-1', '4294967296']) {
      const r = runCli(['analyze', a(), '--bootstrap-seed', seed]);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /expected a seed between 0 and 4294967295/);
    }
  });
});

describe('halving.json: checked against the study before anything is written (D2), and no seeds added (D4)', () => {
  const ids = cheapestIds(4);
  const args = [...tinyHalvingSweep(ids, 3, 256), '--quiet'];
  let done = '';
  before(() => {
    done = join(tmp(), 'run');
    const r = runCli([...args, '--out', done]);
    assert.equal(r.status, 0, r.stderr);
  });

  const edits: [string, (s: HalvingState) => unknown, RegExp][] = [
    [
      'a promoted id of no standing',
      (s) => ({ ...s, decisions: [{ ...s.decisions[0], promoted: [999] }] }),
      /promotes \[999\], but its standings promote/,
    ],
    [
      'a fractional promoted id',
      (s) => ({ ...s, decisions: [{ ...s.decisions[0], promoted: [(ids[0] as number) + 0.5] }] }),
      /needs standings and a list of promoted ids/,
    ],
    [
      'promoted as a string',
      (s) => ({ ...s, decisions: [{ ...s.decisions[0], promoted: String(ids[0]) }] }),
      /needs standings and a list of promoted ids/,
    ],
    [
      'an empty paused run',
      (s) => ({ ...s, paused: { '1/0': {} } }),
      /paused run 1\/0: id undefined is no id/,
    ],
    ['a file holding null', () => null, /not a JSON object/],
    [
      'no decisions under results stopped at a rung',
      (s) => ({ ...s, decisions: [] }),
      /as stopped at the rung of epoch 1, which no decision here did/,
    ],
    [
      'an invented decision at the last rung',
      (s) => ({ ...s, decisions: [...s.decisions, { rung: 3, standings: [], promoted: [] }] }),
      /2 decisions for 1 rungs before the last/,
    ],
    ['another eta', (s) => ({ ...s, eta: 3 }), /are not this study's/],
  ];
  for (const [what, edit, message] of edits) {
    it(`refuses ${what}, and leaves results.jsonl as it was`, () => {
      const dir = join(tmp(), 'run');
      cpSync(done, dir, { recursive: true });
      const state = JSON.parse(readFileSync(join(dir, 'halving.json'), 'utf8')) as HalvingState;
      writeFileSync(join(dir, 'halving.json'), JSON.stringify(edit(state)));
      const results = readFileSync(join(dir, 'results.jsonl'), 'utf8');
      assertUsage(
        runCli(['sweep', '--resume', dir, '--quiet']),
        /halving\.json: .*edited or damaged/,
      );
      assertUsage(runCli(['sweep', '--resume', dir, '--quiet']), message);
      assert.equal(readFileSync(join(dir, 'results.jsonl'), 'utf8'), results);
    });
  }

  it("accepts its own state, and a queue's (ASHA) state with promotions", () => {
    const state = JSON.parse(readFileSync(join(done, 'halving.json'), 'utf8')) as HalvingState;
    const records = readFileSync(join(done, 'results.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ResultRecord);
    const check = { rungs: [1, 3], eta: 2, ids, seeds: [0], records, promote };
    assert.equal(halvingStateProblem(state, check), undefined);
    const asha = { rungs: [1, 3], eta: 2, decisions: [], paused: {}, promoted: [[], [ids[0]]] };
    assert.equal(halvingStateProblem(asha, { ...check, records: [] }), undefined);
    assert.match(
      halvingStateProblem({ ...asha, promoted: [[], [999]] }, { ...check, records: [] }) ?? '',
      /promoted\[1\] must list ids/,
    );
  });

  it('refuses more seeds for a halving run, in one line', () => {
    assertUsage(
      runCli(['sweep', '--resume', done, '--seeds', '2', '--quiet']),
      /ran successive halving, whose rungs were decided on seeds 0: seeds cannot be added/,
    );
  });

  it("compares --eta and a spelled-out default --rungs on resume with the run's own", () => {
    for (const extra of [
      ['--eta', '2'],
      ['--rungs', '1,3'],
    ]) {
      const r = runCli(['sweep', '--resume', done, '--quiet', ...extra]);
      assert.equal(r.status, 0, r.stderr);
    }
    assertUsage(
      runCli(['sweep', '--resume', done, '--quiet', '--eta', '3']),
      /other eta than it was started with/,
    );
  });
});

describe('one writer per run folder (D3)', () => {
  it("of six processes taking a dead process's lock at once, exactly one gets it", async () => {
    const script = `
      import { lockRunFolder } from ${JSON.stringify(new URL('../src/run/folder.js', import.meta.url).href)};
      try { const release = lockRunFolder(process.argv[1]); process.stdout.write('got'); await new Promise((r) => setTimeout(r, 600)); await release(); }
      catch (e) { process.stdout.write('refused: ' + e.message); }`;
    for (let round = 0; round < 3; round++) {
      const dir = tmp();
      writeFileSync(
        join(dir, 'run.lock'),
        JSON.stringify({ pid: 2 ** 22 + 1, host: hostname(), since: 'then' }),
      );
      const outcomes = await Promise.all(
        Array.from(
          { length: 6 },
          () =>
            new Promise<string>((resolve) => {
              const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir]);
              let out = '';
              let err = '';
              child.stdout.on('data', (d: Buffer) => (out += d.toString()));
              // Kept for the failure message: a process that prints nothing died of something.
              child.stderr.on('data', (d: Buffer) => (err += d.toString()));
              child.on('exit', (code, signal) => {
                resolve(out || `(nothing; exit ${String(code ?? signal)}) ${err}`);
              });
            }),
        ),
      );
      assert.equal(outcomes.filter((o) => o === 'got').length, 1, outcomes.join('\n'));
      assert.equal(
        outcomes.filter((o) => /refused: .* is in use by another featshift \(pid \d+ on /.test(o))
          .length,
        5,
        outcomes.join('\n'),
      );
      assert.equal(existsSync(join(dir, 'run.lock')), false, 'released');
    }
  });
});

describe('image folders: limits, file-system failures and degenerate classes, by name (D7, D11, D12)', () => {
  const png = (width: number, height: number): Buffer => {
    const image = new PNG({ width, height });
    image.data.fill(128);
    return PNG.sync.write(image);
  };
  /** train/ and val/ with classes a and b, one small image each, plus `extra` in train/a. */
  const folders = (extra: (trainA: string) => void): [string, string] => {
    const root = tmp();
    for (const split of ['train', 'val'])
      for (const c of ['a', 'b']) {
        mkdirSync(join(root, split, c), { recursive: true });
        writeFileSync(join(root, split, c, '0.png'), png(40, 40));
      }
    extra(join(root, 'train', 'a'));
    return [join(root, 'train'), join(root, 'val')];
  };
  const refused = async (dirs: [string, string], message: RegExp, file: string): Promise<void> => {
    await assert.rejects(loadImageFolders(dirs[0], dirs[1]), (e: unknown) => {
      assert.ok(e instanceof DataError, String(e));
      assert.match(e.message, message);
      assert.ok(e.message.includes(file), e.message);
      return true;
    });
  };

  it('refuses a header claiming 20000 x 20000 pixels before decoding, and a 20000 x 1 strip', async () => {
    const bomb = png(8, 8);
    bomb.writeUInt32BE(20000, 16);
    bomb.writeUInt32BE(20000, 20);
    await refused(
      folders((d) => {
        writeFileSync(join(d, 'bomb.png'), bomb);
      }),
      /400\.0 million pixels, above the limit of 89\.5 million/,
      'bomb.png',
    );
    await refused(
      folders((d) => {
        writeFileSync(join(d, 'strip.png'), png(20000, 1));
      }),
      /20000 times longer than wide, above the limit of 32/,
      'strip.png',
    );
    const strip = Buffer.from(
      jpeg.encode({ width: 4000, height: 8, data: Buffer.alloc(4000 * 8 * 4, 90) }, 80).data,
    );
    await refused(
      folders((d) => {
        writeFileSync(join(d, 'strip.jpg'), strip);
      }),
      /500 times longer than wide/,
      'strip.jpg',
    );
  });

  it('refuses a link loop, a dangling link and a folder named like an image, by name', async () => {
    await refused(
      folders((d) => {
        symlinkSync('.', join(d, 'loop'));
      }),
      /a symbolic link that loops/,
      'loop',
    );
    await refused(
      folders((d) => {
        symlinkSync(join(d, 'gone.png'), join(d, 'dangling.png'));
      }),
      /a symbolic link to nothing/,
      'dangling.png',
    );
    const dirs = folders((d) => {
      symlinkSync('/nonexistent/featshift', join(d, 'x.png'));
    });
    await refused(dirs, /a symbolic link to nothing/, 'x.png');
  });

  it('refuses one class, and a class without images in a split', async () => {
    const root = tmp();
    for (const split of ['train', 'val']) {
      mkdirSync(join(root, split, 'only'), { recursive: true });
      writeFileSync(join(root, split, 'only', '0.png'), png(40, 40));
    }
    await refused(
      [join(root, 'train'), join(root, 'val')],
      /one class folder \('only'\): a classifier needs at least two classes/,
      'train',
    );
    const dirs = folders(() => undefined);
    const empty = join(dirs[0], '..', 'train', 'c');
    mkdirSync(empty);
    mkdirSync(join(dirs[1], 'c'));
    writeFileSync(join(dirs[1], 'c', '0.png'), png(40, 40));
    await refused(
      dirs,
      /class folder 'c' holds no image: every class needs images in both splits/,
      'train',
    );
  });

  it('a bad image folder is exit code 2 on the command line, in one line without control characters', () => {
    const dirs = folders((d) => {
      symlinkSync('.', join(d, 'loop\n\u001b[31m'));
    });
    const r = runCli([
      'sweep',
      '--train-data',
      dirs[0],
      '--val-data',
      dirs[1],
      '--out',
      join(tmp(), 'run'),
      '--quiet',
    ]);
    assertUsage(r, /a symbolic link that loops/);
    assert.match(r.stderr, /loop\\n\\x1b\[31m/);
  });

  it('sorts names by code point, as Python (and so torchvision) does', () => {
    assert.deepEqual(['\u{1F600}', '\uFF01', 'b', 'B'].sort(byCodePoint), [
      'B',
      'b',
      '\uFF01',
      '\u{1F600}',
    ]);
    assert.equal(printable('a\nb\u001b[31m\u0007'), 'a\\nb\\x1b[31m\\x07');
  });
});

describe('the viewer on port 80 answers its own Host (D10)', () => {
  it('serves a request whose Host has no port', async (t) => {
    const dir = tinyRunFolder([line(tinyRecord(1, 0, 60))]);
    let view;
    try {
      view = await serveReport([dir], '127.0.0.1', 80);
    } catch (error) {
      t.skip(
        `port 80 is not free here (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      );
      return;
    }
    try {
      const res = await fetch('http://127.0.0.1/data.json');
      assert.equal(res.status, 200);
      const evil = await new Promise<number | undefined>((resolve, reject) => {
        request(
          { host: '127.0.0.1', port: 80, path: '/data.json', headers: { host: 'evil.example' } },
          (res) => {
            res.resume();
            resolve(res.statusCode);
          },
        )
          .on('error', reject)
          .end();
      });
      assert.equal(evil, 421);
    } finally {
      await view.close();
    }
  });
});

describe("featshift status and workers with jobs that are not featshift's (D13)", () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis.stop();
  });

  it('lists them apart with their reason and exits 0', async () => {
    const queue = new Queue('mixed', { connection: { host: '127.0.0.1', port: redis.port } });
    await queue.add('other', { hello: 'world' });
    const broken = await queue.add('broken', { runId: 'x' });
    await queue.add('nulls', { runId: 'x', study: null, arch: null, seed: 0 });
    await queue.close();
    const client = new Redis(redis.port, '127.0.0.1');
    await client.hset(`bull:mixed:${broken.id ?? ''}`, 'data', 'oops');
    await client.quit();
    const r = runCli(['status', '--queue', redis.url, '--queue-name', 'mixed']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /not featshift jobs \(left alone\): 3/);
    assert.match(r.stdout, /names no run/);
    assert.match(r.stdout, /unreadable/);
    assert.match(r.stdout, /'study' is not an object/);
  });
});
