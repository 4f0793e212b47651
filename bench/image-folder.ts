import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSharp } from '../src/data/image-decode.js';
import { Rng } from '../src/util/random.js';
import { mean, median, pairedRatio, referencePython, type BenchRow } from './common.js';

/** Classes of the generated folder (ImageNet has 1000; the count does not change the work). */
const CLASSES = 10;

/**
 * A folder of `count` JPEG photographs' stand-ins at `side` px (the shorter side; the longer one
 * 1 to 1.5 times it, landscape and portrait), smooth colour fields with noise that compress as
 * photographs do (about 25 KB each at 256 px), one sub-folder per class. Written once and kept
 * (FEATSHIFT_BENCH_FOLDER, else under the system's temporary folder), since writing 20,000 files
 * takes a minute.
 */
async function generatedFolder(count: number, side: number): Promise<string> {
  const root =
    process.env.FEATSHIFT_BENCH_FOLDER ?? join(tmpdir(), `featshift-bench-folder-${count}-${side}`);
  if (existsSync(join(root, 'complete'))) return root;
  rmSync(root, { recursive: true, force: true });
  const sharp = await loadSharp();
  const rng = new Rng(2018);
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const long = side + rng.below(side / 2 + 1);
    const [width, height] = i % 3 === 0 ? [side, long] : [long, side];
    const coarse = Buffer.alloc(12 * 12 * 3);
    for (let k = 0; k < coarse.length; k++) coarse[k] = rng.below(256);
    const field = await sharp(coarse, { raw: { width: 12, height: 12, channels: 3 } })
      .resize(width, height, { kernel: 'cubic' })
      .raw()
      .toBuffer();
    for (let k = 0; k < field.length; k++)
      field[k] = Math.max(0, Math.min(255, (field[k] as number) + rng.below(24) - 12));
    const dir = join(root, 'train', `class${String(i % CLASSES).padStart(3, '0')}`);
    mkdirSync(dir, { recursive: true });
    const jpeg = await sharp(field, { raw: { width, height, channels: 3 } })
      .jpeg({ quality: 85 })
      .toBuffer();
    writeFileSync(join(dir, `${String(i).padStart(6, '0')}.jpg`), jpeg);
    if ((i + 1) % 5000 === 0)
      console.error(
        `  wrote ${i + 1}/${count} JPEGs (${((performance.now() - started) / 1000).toFixed(0)} s)`,
      );
  }
  writeFileSync(join(root, 'complete'), '');
  return root;
}

/**
 * How much resident memory grew over a pass: the median of its second half over the median of
 * its first (medians, since the peaks follow the collector's timing of 77 MB batches; memory that
 * grows with the images read moves the second half's median).
 */
function growthMb(samples: readonly number[]): number {
  const half = Math.max(1, Math.floor(samples.length / 2));
  return median(samples.slice(half)) - median(samples.slice(0, half));
}

interface Pass {
  img_s: number;
  setup_s: number;
  rss_mb: number[];
}

function pass(command: string, args: string[]): Pass | undefined {
  const r = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (r.status === 0) return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Pass;
  console.error(`bench data: ${command} ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return undefined;
}

/**
 * The reference's ImageNet training pipeline on a generated folder of JPEGs (at least 20,000 at
 * 256 px: FEATSHIFT_BENCH_FOLDER_IMAGES, FEATSHIFT_BENCH_FOLDER_SIDE): Resize(P + 32),
 * RandomResizedCrop(P = 224), flip, to floats, batches of 128, one pass, featshift's loader with
 * 2 threads against torchvision's ImageFolder through a DataLoader with 2 worker processes, each
 * in a process of its own, alternated over FEATSHIFT_BENCH_ROUNDS rounds (default 3): images a
 * second (means over the rounds; the ratio with its 95 % interval, paired by round), the
 * listing's seconds (featshift's also reads every header, of both splits: the folder twice
 * here), and resident memory: the peak, and the growth over a pass (the median of its second half
 * over that of its first; flat memory is a growth near 0, whatever the folder's size).
 */
export async function benchImageFolder(): Promise<BenchRow[]> {
  const count = Number(process.env.FEATSHIFT_BENCH_FOLDER_IMAGES ?? 20000);
  const side = Number(process.env.FEATSHIFT_BENCH_FOLDER_SIDE ?? 256);
  const rounds = Math.max(1, Number(process.env.FEATSHIFT_BENCH_ROUNDS ?? 3));
  const [patch, batch, workers] = [224, 128, 2];
  const train = join(await generatedFolder(count, side), 'train');
  const python = referencePython(['torch', 'torchvision']);
  const args = [train, String(workers), String(batch), String(patch)];
  const ours: Pass[] = [];
  const theirs: (Pass | undefined)[] = [];
  for (let round = 0; round < rounds; round++) {
    const own = pass(process.execPath, [
      fileURLToPath(new URL('./image-folder-pass.js', import.meta.url)),
      ...args,
    ]);
    if (!own) throw new Error("featshift's image-folder pass failed");
    ours.push(own);
    theirs.push(python ? pass(python, ['scripts/reference/folder_bench.py', ...args]) : undefined);
  }
  const reference = theirs.filter((p): p is Pass => p !== undefined);
  const ratio = pairedRatio(
    ours.map((p) => p.img_s),
    theirs.map((p) => p?.img_s),
  );
  const peak = (passes: readonly Pass[]): number | undefined =>
    passes.length ? Math.max(...passes.flatMap((p) => p.rss_mb)) : undefined;
  const growth = (passes: readonly Pass[]): number | undefined =>
    passes.length ? Math.max(...passes.map((p) => growthMb(p.rss_mb))) : undefined;
  return [
    {
      workload: `image folder, ${count} JPEGs at ${side} px -> ${patch}, batch ${batch}`,
      threads: workers,
      rounds,
      featshift_img_s: mean(ours.map((p) => p.img_s)),
      pytorch_img_s: mean(reference.map((p) => p.img_s)),
      ratio: ratio?.ratio,
      ratio_low: ratio?.low,
      ratio_high: ratio?.high,
      featshift_list_s: mean(ours.map((p) => p.setup_s)),
      pytorch_list_s: mean(reference.map((p) => p.setup_s)),
      featshift_peak_mb: peak(ours),
      pytorch_peak_mb: peak(reference),
      featshift_growth_mb: growth(ours),
      pytorch_growth_mb: growth(reference),
    },
  ];
}
