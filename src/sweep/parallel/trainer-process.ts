import { trainModel, timeTrainingSteps, TrainingStopped } from '../../train/trainer.js';
import type { TrainingEvents } from '../../train/trainer.js';
import { loadStudyData, SeedLoaders, type StudyData } from '../study-data.js';
import type { FromTrainer, ProcessSetup, ToTrainer, TrainRequest } from './protocol.js';
import { toWire } from './wire-error.js';
import { unitTrainOptions } from '../unit-request.js';

/**
 * One training process of a parallel local sweep (forked by pool.ts with FEATSHIFT_THREADS set):
 * it trains the units its parent sends, one at a time, and sends back training's events and the
 * outcome. The parent alone writes the run folder.
 */

const send = (message: FromTrainer): void => {
  // The parent may have left while this process computed (a failed timing closes the pool): the
  // answer has no one to go to, and 'disconnect' ends the process.
  if (process.connected) process.send?.(message, undefined, undefined, () => undefined);
};

// Ctrl-C reaches the whole process group: the parent decides, and says 'stop'.
process.on('SIGINT', () => undefined);
// The parent is gone (killed, or a second Ctrl-C): nothing here is worth finishing.
process.on('disconnect', () => process.exit(1));

let setup: ProcessSetup | undefined;
let data: Promise<StudyData> | undefined;
let stopRequested = false;
let loaders: SeedLoaders | undefined;

/** Step events thinned to a few a second (and every epoch's first), enough for a progress bar. */
function forwardedEvents(): TrainingEvents {
  let last = 0;
  const forward =
    (name: keyof TrainingEvents) =>
    (...payload: unknown[]): void => {
      send({ type: 'event', name, payload });
    };
  return {
    layout: forward('layout'),
    memory: forward('memory'),
    resumed: forward('resumed'),
    epoch: forward('epoch'),
    step: (p) => {
      const now = performance.now();
      if (p.batch !== 0 && p.batch !== p.batches - 1 && now - last < 250) return;
      last = now;
      send({ type: 'event', name: 'step', payload: [p] });
    },
  };
}

async function train(request: TrainRequest): Promise<FromTrainer> {
  if (!setup || !data) throw new Error('a training process got work before its setup');
  loaders ??= new SeedLoaders(setup.study, await data);
  const batches = await loaders.of(request.config.seed);
  try {
    const outcome = await trainModel(
      unitTrainOptions(request, batches, {
        memoryLimit: setup.memoryLimit,
        shouldStop: () => stopRequested,
      }),
      forwardedEvents(),
    );
    return { type: 'trained', outcome };
  } catch (error) {
    if (error instanceof TrainingStopped) return { type: 'stopped' };
    throw error;
  }
}

function failure(error: unknown): FromTrainer {
  return { type: 'failed', error: toWire(error) };
}

process.on('message', (message: ToTrainer) => {
  switch (message.type) {
    case 'stop':
      stopRequested = true;
      return;
    case 'setup':
      setup = message.setup;
      // The sweep checked the image folders' headers before it started the training processes.
      data = loadStudyData(setup.study, setup.dataDir, {
        checkHeaders: false,
        verified: setup.verified,
      });
      data.catch(() => undefined); // reported by the first unit that awaits it
      send({ type: 'ready' });
      return;
    case 'train':
      stopRequested = false;
      train(message.request).then(send, (error: unknown) => {
        send(failure(error));
      });
      return;
    case 'time':
      try {
        const timings = message.architectures.map((a) =>
          timeTrainingSteps(a.widths, message.config, a.layouts, message.options),
        );
        send({ type: 'timed', timings });
      } catch (error) {
        send(failure(error));
      }
      return;
  }
});
