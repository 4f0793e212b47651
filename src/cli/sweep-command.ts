import { Command } from 'commander';
import { resolve } from 'node:path';
import { requireDatasetSpec } from '../data/dataset.js';
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
import { DEFAULT_QUEUE_NAME } from '../sweep/distributed/jobs.js';
import { parseRedisUrl } from '../sweep/distributed/redis-url.js';
import * as parse from './parse.js';
import { addStudyFlags, givenStudyValues, refuseOtherFamilyFlags } from './study-flags.js';

/** The options that decide results: each is named as its StudyConfig key (--lr-wr-epochs is lrWrEpochs). */

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
    );
  addStudyFlags(command, ['data', 'family', 'selection', 'recipe', 'seeds', 'halving']);
  addRuntimeFlags(command).action(async (o: Record<string, unknown>, cmd: Command) => {
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

/** How this machine runs the study: flags that never change its numbers (but --threads on resume). */
function addRuntimeFlags(command: Command): Command {
  return command
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
    .option('--queue-name <NAME>', 'the queue', DEFAULT_QUEUE_NAME)
    .option(
      '--attempts <N>',
      'tries per architecture on a queue before it is recorded as failed',
      parse.positiveInteger,
      3,
    )
    .option('--take-over-queue', "use a queue that still holds another sweep's jobs")
    .option('-q, --quiet', 'print only the summary')
    .option('--json-log', 'one JSON object per event on standard output');
}

/** The study options given on the command line, resolved: seeds, data folders, dataset names. */
function explicitStudyOptions(
  o: Record<string, unknown>,
  cmd: Command,
  resume: string | undefined,
): Partial<StudyConfig> {
  const explicit = givenStudyValues(o, cmd) as Partial<StudyConfig>;
  // On resume the run's own family settles it, and a changed one is refused with the rest.
  if (resume === undefined) refuseOtherFamilyFlags(cmd, explicit.family ?? 'skew-normal');
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
