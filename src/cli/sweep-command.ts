import { Command, Option } from 'commander';
import { resolve } from 'node:path';
import { DATASETS } from '../data/registry.js';
import { requireDatasetSpec } from '../data/dataset.js';
import { INIT_SCHEMES } from '../models/init.js';
import { LAYOUTS, PRECISIONS } from '../train/recipe.js';
import { UsageError } from '../errors.js';
import { readStoredRun } from '../run/folder.js';
import { preflight } from '../run/preflight.js';
import {
  EMBEDDED_PER_LOCATION,
  checkStudy,
  embeddedDefaultStudy,
  REFERENCE_DEFAULTS,
  resolveSeeds,
  type StudyConfig,
} from '../run/study.js';
import type { RuntimeConfig } from '../sweep/config.js';
import { ConsoleReporter, type ReportMode } from '../sweep/reporter.js';
import { runSweep, type SweepOutcome } from '../sweep/sweep.js';
import { IMAGE_FOLDER } from '../sweep/study-data.js';
import { addFamilyOptions } from './family-command.js';
import { DEFAULT_QUEUE_NAME } from '../sweep/distributed/jobs.js';
import { parseRedisUrl } from '../sweep/distributed/redis-url.js';
import * as parse from './parse.js';

/** The options that decide results: each is named as its StudyConfig key (--lr-wr-epochs is lrWrEpochs). */
const STUDY_KEYS = Object.keys(REFERENCE_DEFAULTS) as (keyof StudyConfig)[];

/** The seed a run folder was started with (a run of an older featshift: its only seed). */
function storedSeed(dir: string): number {
  return readStoredRun(dir).study.seed;
}

export function sweepCommand(): Command {
  const command = new Command('sweep')
    .summary("train every architecture of a family with the paper's recipe, record, resume")
    .description(
      "train every architecture of a family with the paper's recipe, record, resume\n" +
        'With no study option: the embedded default, which asks whether features belong early, in the middle, late or as in VGG\n' +
        '(Fashion-MNIST, VGG-16 at 1/8 width, 3 members per location + baseline, 2 seeds each, 3 epochs on subsets, ~8 min on 2 cores).\n' +
        "With any study option: the reference's defaults for the rest (CIFAR10, VGG-16, 150 epochs, ...).",
    )
    .option(
      '--dataset <NAME>',
      `dataset: ${Object.keys(DATASETS).join(', ')} (reference default CIFAR10)`,
    )
    .option(
      '--train-data <DIR>',
      "train on an image folder, one sub-folder per class (the reference's IMAGENET; needs --val-data)",
    )
    .option('--val-data <DIR>', 'the validation image folder, with the same class sub-folders');
  addFamilyOptions(command, false);
  command
    .option('--ids <LIST>', 'train only these ids, such as 1-10,17 (0 is the baseline)')
    .option('--epochs <N>', 'epochs (default 150)', parse.positiveInteger)
    .option('-b, --batch-size <N>', 'mini-batch size (default 128)', parse.positiveInteger)
    .option(
      '--micro-batch <N>',
      'images per forward/backward pass, a divisor of the batch size; gradients are accumulated (default: the whole batch)',
      parse.positiveInteger,
    )
    .option(
      '--allow-split',
      'split further where the micro-batch does not fit this machine (numbers then depend on its memory; always on a GPU)',
    )
    .option('--lr <LR>', 'maximum learning rate (default 0.01)', parse.positiveNumber)
    .option('--momentum <M>', 'SGD momentum (default 0.9)', parse.finiteNumber)
    .option('--nesterov', 'Nesterov momentum (default off)')
    .option('--weight-decay <W>', 'weight decay (default 5e-4)', parse.finiteNumber)
    .option(
      '--batch-norm <EPS>',
      'batch-norm epsilon; 0 builds the network without batch norm (default 1e-4)',
      parse.nonNegativeNumber,
    )
    .option(
      '--lr-wr-epochs <N>',
      'epochs of the first warm-restart cycle (default 10)',
      parse.positiveInteger,
    )
    .option('--lr-wr-mul <N>', 'growth of each next cycle (default 2)', parse.positiveInteger)
    .option(
      '--lr-wr-min <LR>',
      'minimum learning rate of the cycles (default 1e-5)',
      parse.finiteNumber,
    )
    .addOption(
      new Option(
        '--weight-init <SCHEME>',
        'weight initialisation (default kaiming-normal)',
      ).choices(INIT_SCHEMES),
    )
    .option(
      '--normalize-data',
      "per-channel normalisation with the dataset's mean and std (default off)",
    )
    .option('--gcn', 'global contrast normalisation of each image (default off)')
    .option(
      '--seed <N>',
      'seed of initialisation, data order, augmentation and dropout (default 0)',
      parse.integer,
    )
    .option(
      '--seeds <N|LIST>',
      'train every architecture with N seeds (--seed, --seed + 1, ...) or with the seeds listed, such as 3,7,11 (default: --seed alone)',
    )
    .option(
      '--no-abandon',
      "train every architecture in full: off the reference's rule that stops one below twice chance at the end of the first cycle",
    )
    .option(
      '--halving',
      'successive halving: at each rung (a warm-restart cycle end) only the best 1/eta architectures go on',
    )
    .option('--eta <N>', 'keep the best 1/N at each rung (default 3)', parse.positiveInteger)
    .option(
      '--rungs <LIST>',
      'the rungs, cycle ends such as 10,30,70 (default: every cycle end up to --epochs)',
      parse.integerList,
    )
    .option('--train-subset <N>', 'train on the first N training images', parse.positiveInteger)
    .option('--val-subset <N>', 'validate on the first N test images', parse.positiveInteger)
    .addOption(
      new Option(
        '--precision <PRECISION>',
        'fp32 (the reference), or bf16 mixed precision where the device supports it (default fp32)',
      ).choices(PRECISIONS),
    )
    .addOption(
      new Option(
        '--layout <LAYOUT>',
        'activation layout: auto times a few steps of each and trains in the faster (default auto)',
      ).choices(LAYOUTS),
    )
    .option('--device <DEVICE>', 'cpu or cuda:N', 'cpu')
    .option(
      '--threads <N>',
      'intra-op threads of each training process (default: all cores, shared among --parallel processes)',
      parse.positiveInteger,
    )
    .option(
      '--parallel <N|auto>',
      'train N architectures at once on this machine, each in its own process with a share of the cores; auto times the splits and takes the fastest (default 1)',
      parse.countOrAuto,
    )
    .option(
      '--memory-limit <SIZE>',
      'memory a micro-batch may take on CPU; a study that needs more is refused (default 90% of available RAM)',
      parse.byteSize,
    )
    .option('--data-dir <DIR>', 'a folder holding the dataset files')
    .option('--out <DIR>', 'run folder (default runs/<UTC time>;<dataset>;VGG<depth>)')
    .option('--resume <DIR>', 'continue a run folder where it stopped')
    .option('--keep-checkpoints', "keep each architecture's last checkpoint")
    .option(
      '--queue <URL>',
      'distribute over workers: redis://[:PASSWORD@]HOST:PORT/DB (rediss:// for TLS); see featshift worker',
    )
    .option('--queue-name <NAME>', 'the queue (default featshift)', DEFAULT_QUEUE_NAME)
    .option(
      '--attempts <N>',
      'tries per architecture on a queue before it is recorded as failed',
      parse.positiveInteger,
      3,
    )
    .option('--take-over-queue', "use a queue that still holds another sweep's jobs")
    .option('-q, --quiet', 'print only the summary')
    .option('--json-log', 'one JSON object per event on standard output')
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const resume = o.resume as string | undefined;
      const explicit = explicitStudyOptions(o, cmd, resume);
      const embedded = resume === undefined && Object.keys(explicit).length === 0;
      const study: StudyConfig = embedded
        ? embeddedDefaultStudy()
        : { ...REFERENCE_DEFAULTS, ...explicit };
      const runtime = runtimeOptions(o);
      const mode = reportMode(runtime);
      // A new study that cannot do what was asked is refused before anything is written.
      if (resume === undefined) {
        checkStudy(study);
        preflight(study);
      }
      const reporter = new ConsoleReporter(mode);
      if (embedded && (mode === 'tty' || mode === 'plain')) announceEmbedded(study);
      const stop = stopOnSigint();
      const request = {
        study,
        runtime,
        explicit,
        ...(o.out !== undefined ? { out: o.out as string } : {}),
        ...(resume !== undefined ? { resume } : {}),
        shouldStop: stop.requested,
      };
      try {
        const outcome =
          o.queue !== undefined
            ? await runOnQueue(request, o, reporter)
            : await runSweep(request, reporter);
        concludeOutcome(outcome, mode);
      } catch (error) {
        throw diskFullAdvice(error, reporter.dir);
      } finally {
        stop.release();
      }
    });
  return command;
}

/** The study options given on the command line, resolved: seeds, data folders, dataset names. */
function explicitStudyOptions(
  o: Record<string, unknown>,
  cmd: Command,
  resume: string | undefined,
): Partial<StudyConfig> {
  const explicit: Partial<StudyConfig> = {};
  for (const key of STUDY_KEYS) {
    if (cmd.getOptionValueSource(key) === 'cli')
      (explicit as Record<string, unknown>)[key] = o[key];
  }
  // On resume the run's own halving settles it: an --eta or --rungs is compared with it.
  if (
    resume === undefined &&
    (explicit.eta !== undefined || explicit.rungs !== undefined) &&
    explicit.halving !== true
  )
    throw new UsageError(
      `--${explicit.eta !== undefined ? 'eta' : 'rungs'} sets successive halving: add --halving`,
      explicit.eta !== undefined ? 'eta' : 'rungs',
    );
  if (explicit.seeds !== undefined) {
    // A count counts from --seed, or on resume from the seed the run was started with.
    const base = explicit.seed ?? (resume !== undefined ? storedSeed(resume) : 0);
    explicit.seeds = resolveSeeds(String(o.seeds), base);
  }
  if (typeof explicit.trainData === 'string') explicit.trainData = resolve(explicit.trainData);
  if (typeof explicit.valData === 'string') explicit.valData = resolve(explicit.valData);
  const folders = explicit.trainData !== undefined || explicit.valData !== undefined;
  if (folders && explicit.dataset === undefined) explicit.dataset = IMAGE_FOLDER;
  if (explicit.dataset !== undefined && explicit.dataset !== IMAGE_FOLDER)
    explicit.dataset = requireDatasetSpec(explicit.dataset).name;
  return explicit;
}

/** How this machine runs the study: options that do not change its results. */
function runtimeOptions(o: Record<string, unknown>): RuntimeConfig {
  return {
    device: o.device as string,
    threads: (o.threads as number | undefined) ?? null,
    parallel: (o.parallel as number | 'auto' | undefined) ?? 1,
    memoryLimit: (o.memoryLimit as number | undefined) ?? null,
    dataDir: (o.dataDir as string | undefined) ?? null,
    keepCheckpoints: Boolean(o.keepCheckpoints),
    quiet: Boolean(o.quiet),
    jsonLog: Boolean(o.jsonLog),
  };
}

function reportMode(runtime: RuntimeConfig): ReportMode {
  if (runtime.jsonLog) return 'json';
  if (runtime.quiet) return 'quiet';
  return process.stdout.isTTY ? 'tty' : 'plain';
}

/** What the embedded default asks, and why it is designed so, before it starts. */
function announceEmbedded(study: StudyConfig): void {
  process.stdout.write(
    `The embedded default study: do features belong early, in the middle, late, or as in VGG?\n` +
      `  Fashion-MNIST, VGG-16 at 1/8 of its features, ids ${study.ids ?? ''} (${EMBEDDED_PER_LOCATION} per location, none at the minimum width) and the baseline,\n` +
      `  seeds ${(study.seeds ?? []).join(', ')}, ${study.epochs} epochs in batches of ${study.batchSize} on the first ${study.trainSubset ?? ''} training and ${study.valSubset ?? ''} test images.\n` +
      `  Chosen by the difference it can detect: locations are compared over their architectures, which differ far more\n` +
      `  than seeds; two seeds cannot rank single architectures. The paper: every member at full width, 150 epochs on all\n` +
      `  images, one seed. At this budget the answer is about short training; give study options (--epochs, --ids, ...) for another.\n`,
  );
}

/** The first Ctrl-C stops after the current step, with a checkpoint; the second at once. */
function stopOnSigint(): { requested: () => boolean; release: () => void } {
  let requested = false;
  const onSigint = (): void => {
    if (requested) process.exit(130);
    requested = true;
    process.stderr.write(
      '\nstopping after the current step, with a checkpoint (Ctrl-C again to quit at once)\n',
    );
  };
  process.on('SIGINT', onSigint);
  return {
    requested: () => requested,
    release: () => {
      process.off('SIGINT', onSigint);
    },
  };
}

/** The study on a queue: this process coordinates, `featshift worker`s train. */
async function runOnQueue(
  request: Parameters<typeof runSweep>[0],
  o: Record<string, unknown>,
  reporter: ConsoleReporter,
): Promise<SweepOutcome> {
  if (o.parallel !== undefined)
    throw new UsageError(
      '--parallel shares one machine among training processes; on a queue start a featshift worker per share instead (featshift worker --threads N)',
      'parallel',
    );
  const url = o.queue as string;
  const { runDistributedSweep } = await import('../sweep/distributed/coordinator.js');
  return runDistributedSweep(request, reporter, {
    url,
    connection: parseRedisUrl(url),
    name: o.queueName as string,
    attempts: o.attempts as number,
    takeOver: Boolean(o.takeOverQueue),
  });
}

/** The exit code, whichever executor trained: 130 stopped, 1 when runs failed for good. */
function concludeOutcome(outcome: SweepOutcome, mode: ReportMode): void {
  const failed = outcome.failed ?? [];
  if (outcome.stopped) process.exitCode = 130;
  else if (failed.length > 0) {
    process.stderr.write(
      `featshift: ${failed.length} of ${failed.length + outcome.records.length} runs failed on every attempt (${failed.join('; ')}; see failed.json)\n`,
    );
    process.exitCode = 1;
  } else if (mode === 'quiet') process.stdout.write(`${outcome.dir}\n`);
}

/** A full disk, said with what it left intact and how to go on. */
function diskFullAdvice(error: unknown, dir: string | undefined): unknown {
  if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') return error;
  return new Error(
    `no space left on the device while writing${dir ? ` to ${dir}` : ''}: what was already written is intact; free some space, then resume with featshift sweep --resume '${dir ?? ''}'`,
  );
}
