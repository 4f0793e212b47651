import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { packageVersion, readRunId, withRunFolder, type RunFolder } from '../../run/folder.js';
import { studySeeds } from '../../run/study.js';
import type { RunUnit } from '../../run/units.js';
import {
  runStudy,
  type DataShape,
  type OpenedExecutor,
  type Site,
  type SweepOutcome,
  type SweepReporter,
  type SweepRequest,
} from '../driver.js';
import { studyDataShape } from '../study-data.js';
import { QueueExecutor, type QueueOptions } from './queue-executor.js';
import { probeRedis, QueueUnreachableError } from './redis-probe.js';
import { redactRedisUrl } from './redis-url.js';

export type { QueueOptions } from './queue-executor.js';

/**
 * Runs a sweep on a queue: the study driver hands each (architecture, seed), or each piece of it
 * up to a rung under successive halving (ASHA), to `featshift worker`s as a job, and writes every
 * result into the run folder exactly as a local sweep writes it, once per unit however often a
 * job was delivered. Stopping the coordinator leaves the jobs to the workers; `--resume`
 * re-attaches to the queue's state.
 */
export function runDistributedSweep(
  request: SweepRequest,
  reporter: SweepReporter,
  options: QueueOptions,
): Promise<SweepOutcome> {
  return withRunFolder(
    request,
    (error) => error instanceof UsageError || error instanceof QueueUnreachableError,
    (folder) => runStudy(folder, request, reporter, new QueueSite(request, options)),
  );
}

/** A Redis queue and the workers that take its jobs; this process reads no data. */
class QueueSite implements Site {
  readonly asynchronous = true;
  private readonly request: SweepRequest;
  private readonly options: QueueOptions;

  constructor(request: SweepRequest, options: QueueOptions) {
    this.request = request;
    this.options = options;
  }

  async prepare(folder: RunFolder): Promise<DataShape> {
    await probeRedis(this.options.connection, this.options.url);
    return studyDataShape(folder.study);
  }

  async open(folder: RunFolder, todo: readonly RunUnit[]): Promise<OpenedExecutor> {
    const { dir, resumed } = folder;
    const queue = redactRedisUrl(this.options.url);
    // A run's jobs are named after an id stored in its config.json, not after how its path is spelt.
    const runId = resumed ? (readRunId(dir) ?? resolve(dir)) : randomUUID();
    const executor = await QueueExecutor.connect({
      ...this.options,
      runId,
      dir,
      study: folder.study,
      todo: todo.length,
      shouldStop: this.request.shouldStop,
    });
    return {
      executor,
      config: { runId, queue, queueName: this.options.name },
      environment: {
        featshift: packageVersion(),
        queue,
        queueName: this.options.name,
        seeds: studySeeds(folder.study),
        started: new Date().toISOString(),
        note: 'trained by featshift workers: see each result',
      },
    };
  }
}
