import { loadImageFolders } from '../src/data/image-folder.js';
import { ImageFolderLoader } from '../src/data/image-folder-loader.js';

/**
 * featshift's side of the image-folder row, in a process of its own as torchvision's is: one
 * training pass over a folder (the reference's transform at patch PATCH, batches of BATCH, THREADS
 * loader threads), its images a second (thread start included), the seconds the listing took
 * (every header read) and the process's resident memory sampled every 0.25 s.
 *
 *     node dist/bench/image-folder-pass.js DIR THREADS BATCH PATCH
 */
const [root, threads, batchSize, patchSize] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
];
let started = performance.now();
const folders = await loadImageFolders(root, root);
const setup = (performance.now() - started) / 1000;
const loader = new ImageFolderLoader(folders.train, folders.val, {
  batchSize: Number(batchSize),
  patchSize: Number(patchSize),
  seed: 1,
  normalize: null,
  threads: Number(threads),
});
const samples: number[] = [];
const sample = (): number => samples.push(process.memoryUsage().rss / 2 ** 20);
const sampler = setInterval(sample, 250);
sample();
started = performance.now();
let images = 0;
for await (const b of loader.batches(0)) images += b.count;
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
await loader.close();
if (images !== folders.train.count)
  throw new Error(`a pass gave ${images} images of ${folders.train.count}`);
console.log(JSON.stringify({ img_s: images / seconds, setup_s: setup, rss_mb: samples }));
