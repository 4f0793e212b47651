import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import type { ImageSet } from '../src/data/image-set.js';
import { BatchLoader, type LoaderOptions } from '../src/data/loader.js';
import { ParallelBatchLoader } from '../src/data/parallel-loader.js';
import { referencePython, type BenchRow } from './common.js';
import { benchImageFolder } from './image-folder.js';

const CIFAR_OPTIONS: LoaderOptions = {
  batchSize: 128,
  shuffle: true,
  seed: 1,
  augment: true,
  normalize: { mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201] },
};

function syntheticCifar(count: number): ImageSet {
  const images = new Uint8Array(count * 3072);
  let s = 12345;
  for (let i = 0; i < images.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    images[i] = s >>> 24;
  }
  return {
    images,
    labels: Uint8Array.from({ length: count }, (_, i) => i % 10),
    count,
    channels: 3,
    size: 32,
  };
}

function reference(
  python: string | undefined,
  images: number,
  workers: number,
): number | undefined {
  if (!python) return undefined;
  const r = spawnSync(
    python,
    ['scripts/reference/data_bench.py', String(images), String(workers)],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) return undefined;
  return (JSON.parse(r.stdout) as { img_s: number }).img_s;
}

/**
 * Augmented CIFAR-format images per second (random crop with padding, flip, normalisation, batch
 * 128): featshift on the calling thread and in 1 .. N worker threads, against torchvision's
 * DataLoader with 0 .. N worker processes on the same machine. Goal: 20,000 images/s on 2 cores.
 */
export async function benchData(): Promise<BenchRow[]> {
  const count = Number(process.env.FEATSHIFT_BENCH_IMAGES ?? 50000);
  const set = syntheticCifar(count);
  const python = referencePython(['torch', 'torchvision']);
  const refCount = Math.min(count, 10000);
  const rows: BenchRow[] = [];
  const serial = new BatchLoader(set, CIFAR_OPTIONS);
  let n = 0;
  for (const b of serial.batches(0)) n += b.count; // warm-up
  if (n !== count) throw new Error('incomplete epoch');
  n = 0;
  const start = performance.now();
  for (const b of serial.batches(1)) n += b.count;
  const serialRate = (n * 1000) / (performance.now() - start);
  const ref0 = reference(python, refCount, 0);
  rows.push({
    workload: 'cifar augment, calling thread',
    threads: 0,
    featshift_img_s: serialRate,
    pytorch_img_s: ref0,
    ratio: ref0 ? serialRate / ref0 : undefined,
    goal_img_s: 20000,
  });
  const maxThreads = Math.max(2, availableParallelism());
  for (let threads = 1; threads <= maxThreads; threads *= 2) {
    const parallel = new ParallelBatchLoader(set, CIFAR_OPTIONS, threads);
    let warm = 0;
    for await (const b of parallel.batches(0)) warm += b.count; // warm-up
    if (warm !== count) throw new Error('incomplete epoch');
    const t0 = performance.now();
    let m = 0;
    for await (const b of parallel.batches(1)) m += b.count;
    const rate = (m * 1000) / (performance.now() - t0);
    await parallel.close();
    const ref = reference(python, refCount, threads);
    rows.push({
      workload: 'cifar augment, worker threads',
      threads,
      featshift_img_s: rate,
      pytorch_img_s: ref,
      ratio: ref ? rate / ref : undefined,
      goal_img_s: 20000,
    });
  }
  // FEATSHIFT_BENCH_FOLDER_IMAGES=0 leaves the image-folder row out.
  if (process.env.FEATSHIFT_BENCH_FOLDER_IMAGES !== '0') rows.push(...(await benchImageFolder()));
  return rows;
}
