import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cheapestIds, tinySweep } from './helpers/tiny-study.js';
import { withTmpfs } from './helpers/tmpfs.js';
import { runCli, startCli } from './helpers/cli.js';
import { resultNumbers, results } from './helpers/results.js';
import { loadCheckpoint, saveCheckpoint } from '../src/models/checkpoint.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'featshift-hard-'));
const ID = cheapestIds(1);
const study = (epochs: number, train = 256): string[] => tinySweep(ID, epochs, train);

/** A refused command: exit code 2, one line naming the problem, and no run folder left behind. */
function assertRefused(args: string[], message: RegExp): void {
  const out = join(tmp(), 'run');
  const r = runCli([...args, '--out', out]);
  assert.equal(r.status, 2, `${args.join(' ')}\n${r.stdout}${r.stderr}`);
  assert.match(r.stderr, message);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.ok(r.stderr.length < 400, `a short line: ${r.stderr.length} characters`);
  assert.equal(existsSync(out), false, `${out} was left behind`);
}

describe('hardening: every numeric option bounded, every refusal one line that leaves nothing', () => {
  const cases: [string, string[], RegExp][] = [
    [
      'a thread count far above the cores',
      ['--threads', '100000'],
      /--threads 100000 is more than 4 times this machine's \d+ cores/,
    ],
    [
      'a huge width multiplier',
      ['--width-multiplier', '1e9'],
      /--width-multiplier must be between 0.000001 and 64, got 1000000000/,
    ],
    [
      'a tiny width multiplier',
      ['--width-multiplier', '1e-5'],
      /this family has no member: at this feature budget/,
    ],
    ['a huge patch', ['--patch-size', '100000'], /--patch-size must be between 32 and 1024/],
    ['a seed beyond 32 bits', ['--seed', '4294967296'], /--seed must be between 0 and 4294967295/],
    ['a negative seed', ['--seed', '-1'], /--seed must be between 0 and 4294967295/],
    ['a zero memory limit', ['--memory-limit', '0'], /--memory-limit must be above 0/],
    ['a negative momentum', ['--momentum', '-1'], /--momentum must be between 0 and/],
    [
      'a missing --data-dir',
      ['--data-dir', '/nonexistent/featshift'],
      /--data-dir \/nonexistent\/featshift is not a folder/,
    ],
    [
      'Nesterov without momentum',
      ['--nesterov', '--momentum', '0'],
      /--nesterov needs a --momentum above 0/,
    ],
    [
      'a training set smaller than a batch',
      ['--train-subset', '32'],
      /the training set has 32 images, fewer than one batch of 64/,
    ],
    [
      'image folders beside a published dataset',
      ['--train-data', tmpdir(), '--val-data', tmpdir()],
      /--train-data and --val-data train on image folders, not on FashionMNIST: drop --dataset/,
    ],
    [
      'a training folder without a validation one',
      ['--train-data', tmpdir()],
      /an image-folder study needs both --train-data DIR and --val-data DIR/,
    ],
    [
      'a micro-batch that does not fit',
      ['--memory-limit', '3M'],
      /a micro-batch of 64 images needs .*--allow-split/,
    ],
  ];
  for (const [what, extra, message] of cases) {
    it(`refuses ${what}`, () => {
      assertRefused([...study(1), ...extra], message);
    });
  }

  it('refuses a --data-dir that does not exist in the data commands too', () => {
    const r = runCli(['data', 'verify', 'FashionMNIST', '--data-dir', '/nonexistent/featshift']);
    assert.equal(r.status, 2, r.stdout);
    assert.match(
      r.stderr,
      /\/nonexistent\/featshift: no such folder: --data-dir must name the folder/,
    );
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  it('refuses a huge id range in a short line', () => {
    assertRefused([...study(1), '--ids', '1-2000000'], /'1-2000000' goes past 100000/);
    assertRefused(
      [...study(1), '--ids', '500-900'],
      /no architecture with id 500-900: this family has ids 1-\d+/,
    );
  });
});

describe('hardening: values read back from disk are checked, with the file and key named', () => {
  it('refuses a resume from an edited config.json, naming the file and the key', () => {
    const dir = tmp();
    const r = runCli([...study(2), '--out', dir, '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    const configPath = join(dir, 'config.json');
    const original = readFileSync(configPath, 'utf8');
    for (const [key, value, message] of [
      ['epochs', 'two', /config\.json: study\.epochs is "two", expected integer/],
      ['lr', null, /config\.json: study\.lr is null, expected number/],
      ['batchSize', 0, /config\.json: study\.batchSize must be between 1 and 65536, got 0/],
    ] as const) {
      const config = JSON.parse(original) as { study: Record<string, unknown> };
      config.study[key] = value;
      writeFileSync(configPath, JSON.stringify(config));
      const s = runCli(['sweep', '--resume', dir]);
      assert.equal(s.status, 2, s.stderr);
      assert.match(s.stderr, message);
      assert.equal(s.stderr.trim().split('\n').length, 1);
    }
    writeFileSync(configPath, original);
    writeFileSync(
      join(dir, 'results.jsonl'),
      `${readFileSync(join(dir, 'results.jsonl'), 'utf8')}{"id": 3,\n`,
    );
    const s = runCli(['sweep', '--resume', dir]);
    assert.equal(s.status, 2);
    assert.match(s.stderr, /results\.jsonl:2: not a featshift result line/);
  });

  it('refuses a checkpoint whose training state was edited', async () => {
    const dir = tmp();
    const { child: running, exited } = await startCli(
      [...study(2, 1024), '--out', dir, '--json-log'],
      (out) => out.includes('"event":"epoch"'),
    );
    running.kill('SIGINT');
    assert.equal(await exited, 130);
    const [file] = readdirSync(join(dir, 'checkpoints'));
    assert.ok(file);
    const path = join(dir, 'checkpoints', file);
    const ckpt = await loadCheckpoint(path);
    const state = JSON.parse(ckpt.metadata.featshift ?? '{}') as { epochs: { lr: number }[] };
    const first = state.epochs[0];
    assert.ok(first);
    first.lr = -1;
    await saveCheckpoint(
      path,
      [...ckpt.tensors].map(([name, tensor]) => ({ name, tensor })),
      { featshift: JSON.stringify(state) },
    );
    for (const t of ckpt.tensors.values()) t.dispose();
    const r = runCli(['sweep', '--resume', dir]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      r.stderr,
      /arch_\d+_seed_\d+\.safetensors: epochs\[0\] is not an epoch's statistics/,
    );
  });
});

describe('hardening: result-changing runtime settings are held on resume', () => {
  it('refuses another --threads on resume, and resumes with the recorded one by default', async () => {
    const whole = tmp();
    assert.equal(runCli([...study(2, 1024), '--out', whole, '--quiet']).status, 0);
    const dir = tmp();
    const { child: running, exited } = await startCli(
      [...study(2, 1024), '--out', dir, '--json-log'],
      (out) => out.includes('"event":"epoch"'),
    );
    running.kill('SIGINT');
    assert.equal(await exited, 130);
    const other = runCli(['sweep', '--resume', dir, '--threads', '2']);
    assert.equal(other.status, 2);
    assert.match(
      other.stderr,
      /this run trained with 1 threads; resuming with --threads 2 would change its numbers/,
    );
    // No --threads: the recorded thread count, whatever this machine's default.
    const r = runCli(['sweep', '--resume', dir, '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(resultNumbers(results(dir)), resultNumbers(results(whole)));
  });
});

describe('hardening: Ctrl-C', () => {
  it('stops within a few seconds of a Ctrl-C mid-epoch, with a checkpoint at that step, and resumes exactly', async () => {
    const whole = tmp();
    assert.equal(runCli([...study(1, 8192), '--out', whole, '--quiet']).status, 0);
    const dir = tmp();
    const { child: running, exited } = await startCli(
      [...study(1, 8192), '--out', dir, '--json-log'],
      (out) => out.includes('"event":"memory"'),
    );
    await new Promise((r) => setTimeout(r, 1500));
    const asked = Date.now();
    running.kill('SIGINT');
    assert.equal(await exited, 130);
    const took = Date.now() - asked;
    assert.ok(took < 5000, `stopped ${took} ms after Ctrl-C`);
    const [file] = readdirSync(join(dir, 'checkpoints'));
    assert.ok(file, 'a checkpoint was written');
    const ckpt = await loadCheckpoint(join(dir, 'checkpoints', file));
    const state = JSON.parse(ckpt.metadata.featshift ?? '{}') as { epoch: number; batch: number };
    for (const t of ckpt.tensors.values()) t.dispose();
    assert.equal(state.epoch, 0);
    assert.ok(state.batch > 0 && state.batch < 128, `stopped at batch ${state.batch} of 128`);
    const r = runCli(['sweep', '--resume', dir, '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(resultNumbers(results(dir)), resultNumbers(results(whole)));
  });
});

describe('hardening: one writer per run folder', () => {
  it('refuses a second sweep on a folder in use, and takes over the lock of a killed one', async () => {
    const dir = tmp();
    const { child: running, exited } = await startCli(
      [...study(1, 8192), '--out', dir, '--json-log'],
      (out) => out.includes('"event":"memory"'),
    );
    const second = runCli(['sweep', '--resume', dir]);
    assert.equal(second.status, 2, second.stderr);
    assert.match(second.stderr, /is in use by another featshift \(pid \d+ on /);
    running.kill('SIGKILL');
    await exited;
    assert.ok(existsSync(join(dir, 'run.lock')), 'a killed sweep leaves its lock');
    const resumed = runCli(['sweep', '--resume', dir, '--quiet']);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.equal(existsSync(join(dir, 'run.lock')), false, 'the lock is released at the end');
  });
});

describe('hardening: a read-only run folder', () => {
  it('is refused before anything trains, in one line', (t) => {
    withTmpfs(t, 'size=1m,ro', (mountPoint) => {
      const r = runCli([...study(1), '--out', join(mountPoint, 'run')]);
      assert.equal(r.status, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /cannot write to the run folder .*run \((EROFS|ENOENT)\)/);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    });
  });
});
