import { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { DEFAULT_QUEUE_NAME } from '../sweep/distributed/jobs.js';
import { parseRedisUrl, redactRedisUrl } from '../sweep/distributed/redis-url.js';
import { byteSize } from './parse.js';
import * as parse from './parse.js';

const stamp = (line: string): void => {
  process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
};

export function workerCommand(): Command {
  return new Command('worker')
    .description(
      'pull sweep jobs from a Redis queue and train them, one sandboxed process per device',
    )
    .requiredOption('--queue <URL>', 'redis://[:PASSWORD@]HOST:PORT/DB, or rediss:// for TLS')
    .option('--queue-name <NAME>', 'the queue (default featshift)', DEFAULT_QUEUE_NAME)
    .option('--devices <LIST>', 'devices, one training process each: cpu, or cuda:0,cuda:1', 'cpu')
    .option('--concurrency <N>', 'jobs at once per device', parse.positiveInteger, 1)
    .option(
      '--threads <N>',
      'intra-op threads per training process (default: cores / devices)',
      parse.positiveInteger,
    )
    .option('--data-dir <DIR>', 'a folder holding the dataset files')
    .option(
      '--checkpoint-dir <DIR>',
      'checkpoints on storage every worker reaches: a job taken over after a crash resumes from its last epoch',
    )
    .option('--memory-limit <SIZE>', 'memory budget per training process on CPU', byteSize)
    .option(
      '--lock-seconds <N>',
      "a crashed worker's job is taken over after this long (default 30)",
      parse.positiveInteger,
      30,
    )
    .action(
      async (o: {
        queue: string;
        queueName: string;
        devices: string;
        concurrency: number;
        threads?: number;
        dataDir?: string;
        checkpointDir?: string;
        memoryLimit?: number;
        lockSeconds: number;
      }) => {
        const connection = parseRedisUrl(o.queue);
        const devices = o.devices
          .split(',')
          .map((d) => d.trim())
          .filter(Boolean);
        // BullMQ and ioredis load only for the commands that use them.
        const { startWorkers } = await import('../sweep/distributed/worker.js');
        const { close } = startWorkers({
          url: o.queue,
          connection,
          queueName: o.queueName,
          devices,
          concurrency: o.concurrency,
          threads: o.threads ?? Math.max(1, Math.floor(availableParallelism() / devices.length)),
          dataDir: o.dataDir ?? null,
          checkpointDir: o.checkpointDir ?? null,
          memoryLimit: o.memoryLimit ?? null,
          lockMs: o.lockSeconds * 1000,
          log: stamp,
        });
        stamp(
          `worker on ${redactRedisUrl(o.queue)} queue '${o.queueName}', devices ${devices.join(', ')} (Ctrl-C to stop after the current jobs)`,
        );
        await new Promise<void>((done) => {
          const stop = (): void => {
            stamp('stopping: finishing the current jobs (Ctrl-C again to quit at once)');
            process.once('SIGINT', () => process.exit(130));
            void close().then(done);
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
      },
    );
}

export function statusCommand(): Command {
  return new Command('status')
    .description(
      'show a distributed sweep: done, running (where, which epoch), failed, waiting, throughput, ETA',
    )
    .requiredOption('--queue <URL>', 'redis://[:PASSWORD@]HOST:PORT/DB, or rediss:// for TLS')
    .option('--queue-name <NAME>', 'the queue (default featshift)', DEFAULT_QUEUE_NAME)
    .action(async (o: { queue: string; queueName: string }) => {
      const connection = {
        ...parseRedisUrl(o.queue),
        retryStrategy: () => null as unknown as number,
        maxRetriesPerRequest: null,
      };
      const { probeRedis } = await import('../sweep/distributed/redis-probe.js');
      const { queueStatus } = await import('../sweep/distributed/status.js');
      await probeRedis(connection, o.queue);
      process.stdout.write(`${await queueStatus(connection, o.queueName)}\n`);
    });
}
