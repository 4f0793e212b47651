// Writes a small real dataset as image folders (one sub-folder per class, PNG files), for a GPU
// machine that has no dataset: the first TRAIN and VAL images of Debian's Fashion-MNIST (the
// files verified as featshift verifies them), grey PNGs as torchvision's ImageFolder reads them.
//   node scripts/device/write-image-folders.mjs OUT_DIR [TRAIN] [VAL]
// Needs `npm run build` (it reads the files with featshift's own IDX reader).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { gunzipFile, parseIdx } from '../../dist/src/data/idx.js';

const [out, trainArg = '2048', valArg = '512'] = process.argv.slice(2);
if (!out) {
  console.error('usage: node scripts/device/write-image-folders.mjs OUT_DIR [TRAIN] [VAL]');
  process.exit(2);
}
const source = '/usr/share/datasets/fashion-mnist';
const read = (name, dims) => {
  const file = join(source, name);
  return parseIdx(gunzipFile(readFileSync(file), file), file, dims);
};
for (const [split, prefix, count] of [
  ['train', 'train', Number(trainArg)],
  ['val', 't10k', Number(valArg)],
]) {
  const images = read(`${prefix}-images-idx3-ubyte.gz`, 3);
  const labels = read(`${prefix}-labels-idx1-ubyte.gz`, 1);
  const [, h, w] = images.dims;
  for (let i = 0; i < Math.min(count, labels.dims[0]); i++) {
    const folder = join(out, split, `class-${labels.data[i]}`);
    mkdirSync(folder, { recursive: true });
    const png = new PNG({ width: w, height: h, colorType: 0, inputColorType: 0, bitDepth: 8 });
    const grey = images.data.subarray(i * h * w, (i + 1) * h * w);
    png.data = Buffer.from(grey);
    writeFileSync(
      join(folder, `${String(i).padStart(5, '0')}.png`),
      PNG.sync.write(png, { colorType: 0, inputColorType: 0 }),
    );
  }
}
console.log(
  `write-image-folders: ${trainArg} training and ${valArg} validation images under ${out}`,
);
