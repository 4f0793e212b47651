import { readLiveStatus } from '../src/run/live.js';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { skewNormalFamily } from '../src/family/skew-normal.js';
import { longestFirst, makespan } from '../src/sweep/distributed/jobs.js';
import { parseRedisUrl, redactRedisUrl } from '../src/sweep/distributed/redis-url.js';
import { runCli } from './helpers/cli.js';
import { cheapestIds, tinyStudy } from './helpers/tiny-study.js';
import { resultNumbers, results } from './helpers/results.js';
import { commandPath } from './helpers/paths.js';
import { startRedis, type RedisServer } from './helpers/redis.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'featshift-dist-'));
const IDS = cheapestIds(4).join(',');
const STUDY = [
  ...tinyStudy(cheapestIds(4)),
  '--epochs',
  '3',
  '--lr-wr-epochs',
  '3',
  '--train-subset',
  '1024',
  '--val-subset',
  '128',
];

/** Starts the CLI in a process group of its own (so that SIGKILL takes its sandboxed children too). */
function start(
  args: string[],
  onLine?: (line: string) => void,
): { child: ChildProcess; exited: Promise<number | null>; output: () => string } {
  const child = spawn(commandPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  const take = (d: Buffer): void => {
    out += d.toString();
    for (const line of d.toString().split('\n')) if (line) onLine?.(line);
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      resolve(code);
    });
  });
  return { child, exited, output: () => out };
}

/** A worker of one thread on `queue`, with a short lock and its checkpoints in `shared`. */
const sharedWorker = (url: string, queue: string, shared: string): string[] => [
  'worker',
  '--queue',
  url,
  '--queue-name',
  queue,
  '--threads',
  '1',
  '--lock-seconds',
  '3',
  '--checkpoint-dir',
  shared,
];

/** A process's exit code, or 'timeout' after `ms`. */
const exitWithin = (exited: Promise<number | null>, ms: number): Promise<unknown> =>
  Promise.race([
    exited,
    new Promise((r) => {
      setTimeout(() => {
        r('timeout');
      }, ms);
    }),
  ]);

const until = async (check: () => boolean, ms: number, what: string): Promise<void> => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('distributed sweeps on a real redis-server', () => {
  let redis: RedisServer;
  const spawned: ChildProcess[] = [];

  before(async () => {
    redis = await startRedis();
  });

  /**
   * A study run locally with one thread (the workers' numbers) and started on `queue` by a
   * coordinator (with `options` added there); where each writes, and a folder for checkpoints.
   */
  const localAndQueued = (
    study: readonly string[],
    queue: string,
    options: readonly string[] = [],
  ): { local: string; out: string; coordinator: ReturnType<typeof start>; shared: string } => {
    const local = tmp();
    const l = runCli(['sweep', ...study, '--threads', '1', '--quiet', '--out', local]);
    assert.equal(l.status, 0, l.stderr);
    const out = join(tmp(), 'run');
    const coordinator = start([
      'sweep',
      ...study,
      ...options,
      '--queue',
      redis.url,
      '--queue-name',
      queue,
      '--out',
      out,
    ]);
    spawned.push(coordinator.child);
    return { local, out, coordinator, shared: tmp() };
  };

  after(async () => {
    for (const c of spawned) {
      try {
        if (c.pid) process.kill(-c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await redis.stop();
  });

  it('finishes a study on two workers, one SIGKILLed mid-job, with the results of a local run, once each', async () => {
    const { local, out, coordinator, shared } = localAndQueued(STUDY, 'kill-test');
    const workerArgs = sharedWorker(redis.url, 'kill-test', shared);
    const victim = start(workerArgs);
    spawned.push(victim.child);
    // Kill the first worker once a job of its has written an epoch checkpoint.
    await until(
      () =>
        readdirSync(shared, { recursive: true }).some((f) => String(f).endsWith('.safetensors')) &&
        /training id/.test(victim.output()),
      60000,
      'a first checkpoint',
    );
    // The coordinator's run folder shows the run in training, and where, as a local sweep's does.
    await until(
      () =>
        (readLiveStatus(out).status?.units ?? []).some(
          (u) => u.where !== null && u.where.includes(':'),
        ),
      60000,
      "live.json naming the worker's run",
    );
    const survivor = start(workerArgs);
    spawned.push(survivor.child);
    process.kill(-(victim.child.pid ?? 0), 'SIGKILL');
    await victim.exited;
    const code = await exitWithin(coordinator.exited, 150000);
    assert.equal(code, 0, coordinator.output());
    const got = results(out);
    assert.deepEqual(
      got.map((r) => r.id).sort((a, b) => a - b),
      IDS.split(',').map(Number),
    );
    assert.deepEqual(resultNumbers(got), resultNumbers(results(local)));
    assert.equal(existsSync(join(out, 'failed.json')), false);
    assert.equal(existsSync(join(out, 'live.json')), false, 'live.json goes with the sweep');
    assert.match(survivor.output(), /training id \d+/);
    process.kill(-(survivor.child.pid ?? 0), 'SIGTERM');
    await survivor.exited;
  });

  it('re-attaches to the queue with --resume after the coordinator was stopped, one job per (architecture, seed)', async () => {
    const out = join(tmp(), 'run');
    const ids = cheapestIds(2);
    const study = [
      ...tinyStudy(ids),
      '--seeds',
      '4,9',
      '--epochs',
      '2',
      '--lr-wr-epochs',
      '2',
      '--train-subset',
      '512',
      '--val-subset',
      '128',
    ];
    const worker = start([
      'worker',
      '--queue',
      redis.url,
      '--queue-name',
      'reattach',
      '--threads',
      '1',
    ]);
    spawned.push(worker.child);
    const coordinator = start([
      'sweep',
      ...study,
      '--queue',
      redis.url,
      '--queue-name',
      'reattach',
      '--out',
      out,
    ]);
    spawned.push(coordinator.child);
    await until(() => /done: best val/.test(coordinator.output()), 60000, 'a first result');
    // The queue's units are shown as the local runner shows its own, with the worker named.
    assert.match(coordinator.output(), /run \d\/4 \(id \d+, seed [49]\) on \S+:\d+:cpu: widths/);
    coordinator.child.kill('SIGINT');
    assert.equal(await coordinator.exited, 130);
    assert.match(coordinator.output(), /stopped following; the workers go on/);
    const r = runCli([
      'sweep',
      '--resume',
      out,
      '--queue',
      redis.url,
      '--queue-name',
      'reattach',
      '--quiet',
    ]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.deepEqual(
      results(out)
        .map((x) => `${x.id}/${x.seed}`)
        .sort(),
      ids.flatMap((id) => [`${id}/4`, `${id}/9`]).sort(),
    );
    assert.match(worker.output(), /training id \d+, seed [49] /);
    process.kill(-(worker.child.pid ?? 0), 'SIGTERM');
    await worker.exited;
  });

  it('halves asynchronously (ASHA) on two workers, one SIGKILLed mid-job, each epoch as the full local sweep', async () => {
    const ids = cheapestIds(6);
    const study = [
      ...tinyStudy(ids),
      '--epochs',
      '7',
      '--lr-wr-epochs',
      '1',
      '--lr-wr-mul',
      '2',
      '--no-abandon',
      '--train-subset',
      '256',
      '--val-subset',
      '128',
    ];
    const { local, out, coordinator, shared } = localAndQueued(study, 'asha', [
      '--halving',
      '--eta',
      '2',
    ]);
    const workerArgs = sharedWorker(redis.url, 'asha', shared);
    const victim = start(workerArgs);
    spawned.push(victim.child);
    const survivor = start(workerArgs);
    spawned.push(survivor.child);
    await until(() => /goes on to epoch 3/.test(coordinator.output()), 90000, 'a promotion');
    process.kill(-(victim.child.pid ?? 0), 'SIGKILL');
    await victim.exited;
    const code = await exitWithin(coordinator.exited, 150000);
    assert.equal(code, 0, coordinator.output());
    const got = results(out);
    assert.deepEqual(
      got.map((r) => r.id).sort((a, b) => a - b),
      ids,
      'one line per architecture',
    );
    const whole = new Map(results(local).map((r) => [r.id, r]));
    for (const r of got) {
      assert.deepEqual(r.valAcc, whole.get(r.id)?.valAcc.slice(0, r.valAcc.length), `id ${r.id}`);
      assert.equal(r.stoppedAtRung, r.valAcc.length < 7 ? r.valAcc.length : null);
    }
    assert.ok(got.filter((r) => r.valAcc.length >= 3).length >= 3, 'the best half at least');
    assert.ok(
      got.some((r) => r.valAcc.length === 7),
      'one trains to the end',
    );
    assert.match(coordinator.output(), /Successive halving: /);
    process.kill(-(survivor.child.pid ?? 0), 'SIGTERM');
    await survivor.exited;
  });

  it("refuses a queue that holds another sweep's unfinished jobs, unless asked", async () => {
    const connection = parseRedisUrl(redis.url);
    const queue = new Queue('busy', { connection });
    await queue.add('other', { x: 1 }, { jobId: 'other-1' });
    const client = new Redis({ ...connection, lazyConnect: true });
    await client.connect();
    await client.set('featshift:busy:run', 'someone-else');
    client.disconnect();
    await queue.close();
    const r = runCli([
      'sweep',
      ...STUDY,
      '--queue',
      redis.url,
      '--queue-name',
      'busy',
      '--out',
      join(tmp(), 'r'),
    ]);
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /queue 'busy' holds 1 unfinished jobs of another sweep \(someone-else\): use another --queue-name, or --take-over-queue/,
    );
  });

  it('enqueues again the jobs that Redis lost, and finishes', async () => {
    // A Redis of its own: it is flushed below.
    const own = await startRedis();
    const out = join(tmp(), 'run');
    const ids = cheapestIds(2);
    const study = [
      ...tinyStudy(ids),
      '--epochs',
      '1',
      '--lr-wr-epochs',
      '1',
      '--train-subset',
      '256',
      '--val-subset',
      '128',
    ];
    const coordinator = start([
      'sweep',
      ...study,
      '--queue',
      own.url,
      '--queue-name',
      'lost',
      '--out',
      out,
    ]);
    spawned.push(coordinator.child);
    await until(() => /2 jobs for/.test(coordinator.output()), 60000, 'the jobs');
    // Redis loses everything (a restart without persistence): no job is left to poll.
    const client = new Redis(parseRedisUrl(own.url));
    await client.flushall();
    client.disconnect();
    await until(
      () => /its job is gone from the queue/.test(coordinator.output()),
      30000,
      'a re-enqueue',
    );
    const worker = start(['worker', '--queue', own.url, '--queue-name', 'lost', '--threads', '1']);
    spawned.push(worker.child);
    assert.equal(await coordinator.exited, 0, coordinator.output());
    assert.deepEqual(
      results(out)
        .map((r) => r.id)
        .sort((a, b) => a - b),
      ids,
    );
    worker.child.kill('SIGINT');
    await worker.exited;
    await own.stop();
  });

  it('exits with 1 and names the architectures that failed on every attempt, in --json-log events too', async () => {
    const out = join(tmp(), 'run');
    const ids = cheapestIds(1);
    // The workers' memory limit fits no micro-batch: every attempt fails.
    const worker = start([
      'worker',
      '--queue',
      redis.url,
      '--queue-name',
      'failing',
      '--threads',
      '1',
      '--memory-limit',
      '1K',
    ]);
    spawned.push(worker.child);
    const r = runCli([
      'sweep',
      ...tinyStudy(ids),
      '--epochs',
      '1',
      '--train-subset',
      '256',
      '--val-subset',
      '128',
      '--queue',
      redis.url,
      '--queue-name',
      'failing',
      '--attempts',
      '1',
      '--json-log',
      '--out',
      out,
    ]);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    // --json-log holds on a queue too: the local runner's events, the last the summary.
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; id?: number; failed?: string[] });
    assert.equal(events[0]?.event, 'start');
    assert.ok(events.some((e) => e.event === 'failed' && e.id === ids[0]));
    assert.equal(events.at(-1)?.event, 'done');
    assert.deepEqual(events.at(-1)?.failed, [`id ${ids[0]}`]);
    assert.match(
      r.stderr,
      new RegExp(`failed on every attempt \\(id ${ids[0]}; see failed\\.json\\)`),
    );
    assert.ok(existsSync(join(out, 'failed.json')));
    worker.child.kill('SIGINT');
    await worker.exited;
  });

  it('says in one line, with no stack trace, that Redis is unreachable, and leaves no run folder', () => {
    const down = 'redis://127.0.0.1:1/0';
    const status = runCli(['status', '--queue', down]);
    assert.equal(status.status, 1);
    assert.match(
      status.stderr,
      /^featshift: cannot reach Redis at redis:\/\/127\.0\.0\.1:1\/0 \(.*\): start redis-server there/,
    );
    assert.equal(status.stderr.trim().split('\n').length, 1, status.stderr);
    const out = join(tmp(), 'run');
    const sweep = runCli([
      'sweep',
      ...tinyStudy(cheapestIds(1)),
      '--epochs',
      '1',
      '--queue',
      down,
      '--out',
      out,
    ]);
    assert.equal(sweep.status, 1);
    assert.match(sweep.stderr, /cannot reach Redis/);
    assert.equal(sweep.stderr.trim().split('\n').length, 1, sweep.stderr);
    assert.equal(existsSync(out), false);
  });

  it('stops a worker waiting for an unreachable Redis at the first Ctrl-C', async () => {
    const worker = start(['worker', '--queue', 'redis://127.0.0.1:1/0', '--threads', '1']);
    spawned.push(worker.child);
    await until(() => /waiting for Redis/.test(worker.output()), 30000, 'the worker to wait');
    const asked = Date.now();
    worker.child.kill('SIGINT');
    assert.equal(await worker.exited, 0, worker.output());
    assert.ok(Date.now() - asked < 5000, `stopped after ${Date.now() - asked} ms`);
  });

  it('shows the state of a queue', () => {
    const r = runCli(['status', '--queue', redis.url, '--queue-name', 'kill-test']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /queue 'kill-test': 4 done, 0 running, 0 failed, 0 waiting/);
    assert.match(r.stdout, /workers:\n\s+\S+:\d+:cpu: \d+ jobs, [\d.]+ G MAC-images\/s/);
  });
});

describe('queue settings', () => {
  it('parses redis URLs with passwords and TLS, and never shows the password', () => {
    const c = parseRedisUrl('rediss://user:s3cr%40t@cache.example:6380/2');
    assert.deepEqual(
      [c.host, c.port, c.db, c.username, c.password, c.tls],
      ['cache.example', 6380, 2, 'user', 's3cr@t', {}],
    );
    assert.equal(
      redactRedisUrl('redis://:hunter2@127.0.0.1:6379/0'),
      'redis://***@127.0.0.1:6379/0',
    );
    assert.throws(() => parseRedisUrl('http://x'), /not a Redis URL/);
    const r = runCli(['status', '--queue', 'redis://:hunter2@127.0.0.1:1/0']);
    assert.notEqual(r.status, 0);
    assert.doesNotMatch(r.stdout + r.stderr, /hunter2/);
  });

  it('orders jobs longest first, which keeps 8 workers near the ideal makespan', () => {
    const costs = skewNormalFamily().map((a) => a.macs);
    const ordered = longestFirst(skewNormalFamily()).map((a) => a.macs);
    const ideal = costs.reduce((a, b) => a + b, 0) / 8;
    assert.ok(ideal / makespan(ordered, 8) >= 0.95);
    assert.ok(makespan(ordered, 32) < makespan(costs, 32));
    assert.equal(makespan([5, 3, 3], 2), 6);
  });
});
