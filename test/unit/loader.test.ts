import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ImageSet } from '../../src/data/image-set.js';
import { BatchLoader, type Batch } from '../../src/data/loader.js';
import { ParallelBatchLoader } from '../../src/data/parallel-loader.js';
import { resizeBilinear } from '../../src/data/resize.js';

function colourSet(count: number): ImageSet {
  const images = new Uint8Array(count * 3 * 1024);
  for (let i = 0; i < images.length; i++) images[i] = (i * 37 + (i >> 10) * 11) % 256;
  return {
    images,
    labels: Uint8Array.from({ length: count }, (_, i) => i % 10),
    count,
    channels: 3,
    size: 32,
  };
}

const labelsOf = (batches: Batch[]): number[] => batches.flatMap((b) => Array.from(b.y, Number));

describe('BatchLoader', () => {
  it('keeps the last partial batch and the file order without shuffling', () => {
    const loader = new BatchLoader(colourSet(19), { batchSize: 8 });
    const batches = [...loader.batches(0)];
    assert.deepEqual(
      batches.map((b) => b.count),
      [8, 8, 3],
    );
    assert.equal(loader.batchesPerEpoch, 3);
    assert.deepEqual(
      labelsOf(batches),
      Array.from({ length: 19 }, (_, i) => i % 10),
    );
    // No augmentation and no normalisation: ToTensor's v / 255 in float32.
    const set = colourSet(19);
    assert.equal(batches[0]?.x[5], Math.fround((set.images[5] as number) / 255));
  });

  it('gives the same batches for the same seed and epoch, and others for another epoch', () => {
    const options = { batchSize: 16, shuffle: true, seed: 7, augment: true };
    const a = [...new BatchLoader(colourSet(50), options).batches(3)];
    const b = [...new BatchLoader(colourSet(50), options).batches(3)];
    assert.deepEqual(a, b);
    const other = [...new BatchLoader(colourSet(50), options).batches(4)];
    assert.notDeepEqual(labelsOf(other), labelsOf(a));
    assert.deepEqual(labelsOf(other).sort(), labelsOf(a).sort());
    // Resuming at batch 2 gives the same batches 2 and 3.
    const resumed = [...new BatchLoader(colourSet(50), options).batches(3, 2)];
    assert.deepEqual(resumed, a.slice(2));
  });

  it('crops with zero padding ceil(0.1 P) and flips, as RandomCrop(P, 4) + RandomHorizontalFlip', () => {
    const set = colourSet(40);
    const loader = new BatchLoader(set, { batchSize: 40, augment: true, seed: 1 });
    const batch = [...loader.batches(0)][0] as Batch;
    const seen = new Set<string>();
    for (let k = 0; k < 40; k++) {
      const out = batch.x.subarray(k * 3072, (k + 1) * 3072);
      let match: string | undefined;
      for (let top = -4; top <= 4 && !match; top++) {
        for (let left = -4; left <= 4 && !match; left++) {
          for (const flip of [false, true]) {
            let same = true;
            for (let c = 0; c < 3 && same; c++) {
              for (let r = 0; r < 32 && same; r++) {
                for (let q = 0; q < 32 && same; q++) {
                  const sr = r + top;
                  const sq = (flip ? 31 - q : q) + left;
                  const v =
                    sr < 0 || sr > 31 || sq < 0 || sq > 31
                      ? 0
                      : (set.images[k * 3072 + c * 1024 + sr * 32 + sq] as number);
                  same = out[c * 1024 + r * 32 + q] === Math.fround(v / 255);
                }
              }
            }
            if (same) match = `${top},${left},${flip}`;
          }
        }
      }
      assert.ok(match, `image ${k} is not a padded crop of its source`);
      seen.add(match);
    }
    assert.ok(seen.size > 20, 'crops and flips vary');
    assert.ok(
      [...seen].some((m) => m.endsWith('true')) && [...seen].some((m) => m.endsWith('false')),
    );
  });

  it('normalises per channel in float32, as ToTensor then Normalize', () => {
    const set = colourSet(2);
    const mean = [0.4914, 0.4822, 0.4465];
    const std = [0.2023, 0.1994, 0.201];
    const batch = [
      ...new BatchLoader(set, { batchSize: 2, normalize: { mean, std } }).batches(0),
    ][0] as Batch;
    for (const i of [0, 1500, 2500, 3071]) {
      const c = Math.floor(i / 1024);
      const f = Math.fround;
      const expected = f(
        f(f((set.images[i] as number) / 255) - f(mean[c] as number)) / f(std[c] as number),
      );
      assert.equal(batch.x[i], expected);
    }
  });

  it('resizes grey 28 px images to the patch size and repeats them to three channels', () => {
    const grey: ImageSet = {
      images: Uint8Array.from({ length: 2 * 784 }, (_, i) => (i * 5) % 256),
      labels: new Uint8Array(2),
      count: 2,
      channels: 1,
      size: 28,
    };
    const batch = [
      ...new BatchLoader(grey, { batchSize: 2, patchSize: 32 }).batches(0),
    ][0] as Batch;
    assert.equal(batch.x.length, 2 * 3 * 1024);
    const resized = resizeBilinear(grey.images, 2, 28, 28, 32, 32);
    for (const i of [0, 77, 1023]) {
      assert.equal(batch.x[i], Math.fround((resized[i] as number) / 255));
      assert.equal(batch.x[1024 + i], batch.x[i]);
      assert.equal(batch.x[2048 + i], batch.x[i]);
    }
  });

  it('applies global contrast normalisation per image', () => {
    const batch = [
      ...new BatchLoader(colourSet(3), { batchSize: 3, gcn: true }).batches(0),
    ][0] as Batch;
    for (let k = 0; k < 3; k++) {
      const img = batch.x.subarray(k * 3072, (k + 1) * 3072);
      const mean = img.reduce((a, b) => a + b, 0) / img.length;
      const sd = Math.sqrt(img.reduce((a, b) => a + (b - mean) ** 2, 0) / img.length);
      assert.ok(Math.abs(mean) < 1e-5 && Math.abs(sd - 1) < 1e-4);
    }
  });

  it('refuses a batch size below one', () => {
    assert.throws(
      () => new BatchLoader(colourSet(2), { batchSize: 0 }),
      /batch size must be a positive integer/,
    );
  });
});

describe('ParallelBatchLoader', () => {
  it('builds exactly the batches of BatchLoader in worker threads', async () => {
    const options = { batchSize: 16, shuffle: true, seed: 3, augment: true };
    const serial = [...new BatchLoader(colourSet(100), options).batches(2)];
    const parallel = new ParallelBatchLoader(colourSet(100), options, 2);
    const got: Batch[] = [];
    for await (const b of parallel.batches(2)) got.push(b);
    assert.deepEqual(got, serial);
    // Stopping early leaves nothing in flight, and the loader stays usable.
    for await (const b of parallel.batches(0)) {
      assert.equal(b.index, 0);
      break;
    }
    await parallel.close();
  });
});
