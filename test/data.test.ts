import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { readCifarArchive } from '../src/data/cifar.js';
import { loadDataset } from '../src/data/dataset.js';
import { downloadVerified } from '../src/data/download.js';
import { gunzipFile, parseIdx } from '../src/data/idx.js';
import { labelHistogram } from '../src/data/image-set.js';
import { DataError } from '../src/data/errors.js';
import { loadImageFolders } from '../src/data/image-folder.js';
import { ImageFolderLoader } from '../src/data/image-folder-loader.js';
import { DATASETS, type DatasetSpec } from '../src/data/registry.js';
import { resizeBilinear } from '../src/data/resize.js';
import { locateDataset } from '../src/data/sources.js';
import { collect } from './helpers/batches.js';
import { runCli } from './helpers/cli.js';
import {
  gzip,
  idx,
  writeCifar100Archive,
  writeCifarArchive,
  writeMnistLike,
} from './helpers/data-files.js';
import { serveFiles } from './helpers/file-server.js';
import { readFixture } from './helpers/paths.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'featshift-data-'));
const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const quick = { quiet: true, backoffMs: 10, attempts: 3, idleTimeoutMs: 2000 };

// Point the cache at an empty folder, so that only the Debian package (or the test's files) count.
let savedCache: string | undefined;
before(() => {
  savedCache = process.env.FEATSHIFT_CACHE_DIR;
  process.env.FEATSHIFT_CACHE_DIR = tmp();
});
after(() => {
  if (savedCache === undefined) delete process.env.FEATSHIFT_CACHE_DIR;
  else process.env.FEATSHIFT_CACHE_DIR = savedCache;
});

describe("the real Fashion-MNIST from Debian's dataset-fashion-mnist", () => {
  it('is found, verified by content hash, and read completely', async () => {
    const d = await loadDataset('FashionMNIST', { download: false });
    assert.deepEqual(
      d.files.map((f) => [f.origin, f.verifiedBy]),
      Array(4).fill(['system', 'content']),
    );
    assert.equal(d.train.count, 60000);
    assert.equal(d.test.count, 10000);
    assert.deepEqual(labelHistogram(d.train, 10), Array(10).fill(6000));
    assert.deepEqual(labelHistogram(d.test, 10), Array(10).fill(1000));
    // The decompressed contents are the published ones.
    const spec = DATASETS.FashionMNIST.files;
    for (const f of d.files) {
      const content = gunzipFile(readFileSync(f.path), f.path);
      assert.equal(sha256(content), spec.find((s) => s.name === f.file.name)?.contentSha256);
    }
    // The first training image is an ankle boot (label 9), as published.
    assert.equal(d.train.labels[0], 9);
  });

  it('is listed as present and verified by `featshift data ls`, and verifies', () => {
    const ls = runCli(['data', 'ls']);
    assert.equal(ls.status, 0, ls.stderr);
    assert.match(ls.stdout, /FashionMNIST\s+present, verified/);
    assert.match(
      ls.stdout,
      /train-images-idx3-ubyte\.gz\s+verified \(content SHA-256\)\s+system: \/usr\/share\/datasets\/fashion-mnist/,
    );
    const verify = runCli(['data', 'verify', 'fashion-mnist']);
    assert.equal(verify.status, 0, verify.stderr);
    assert.match(
      verify.stdout,
      /labels per class 6000 6000 6000 6000 6000 6000 6000 6000 6000 6000/,
    );
  });
});

describe('IDX files', () => {
  it('refuses a wrong magic number, truncation, trailing bytes and bad gzip, naming the file', () => {
    const good = idx([2, 2, 2], new Uint8Array(8));
    assert.deepEqual(parseIdx(good, 'f', 3).dims, [2, 2, 2]);
    const wrong = Uint8Array.from(good);
    wrong[2] = 0x0d; // float data
    assert.throws(
      () => parseIdx(wrong, 'a.idx'),
      /^DataError: a\.idx: wrong magic number 0x00000d03/,
    );
    assert.throws(
      () => parseIdx(good.subarray(0, good.length - 1), 'b.idx'),
      /b\.idx: truncated: the header promises 8 bytes of data, the file holds 7/,
    );
    assert.throws(() => parseIdx(Uint8Array.from([...good, 1]), 'c.idx'), /c\.idx: too long/);
    assert.throws(
      () => parseIdx(good, 'd.idx', 1),
      /d\.idx: expected an IDX array of 1 dimensions, found 3/,
    );
    assert.throws(() => gunzipFile(good, 'e.gz'), /e\.gz: not a gzip file/);
    const damaged = Uint8Array.from(gzip(good));
    const at = damaged.length - 6;
    damaged[at] = (damaged[at] as number) ^ 0xff; // the CRC no longer matches
    assert.throws(() => gunzipFile(damaged, 'f.gz'), /f\.gz: damaged gzip stream/);
    assert.throws(
      () => gunzipFile(gzip(good).subarray(0, 15), 'g.gz'),
      /g\.gz: damaged gzip stream/,
    );
  });

  it('reads a small MNIST-format dataset from --data-dir when its checksums are the expected ones', async () => {
    const dir = tmp();
    writeMnistLike(dir);
    const spec: DatasetSpec = {
      ...DATASETS.MNIST,
      files: DATASETS.MNIST.files.map((f) => ({
        name: f.name,
        md5: md5(readFileSync(join(dir, f.name))),
      })),
    };
    const located = await locateDataset(spec, { dataDir: dir, download: false });
    assert.deepEqual(
      located.map((f) => f.origin),
      ['data-dir', 'data-dir', 'data-dir', 'data-dir'],
    );
    // A data-dir file with the wrong checksum is refused, not used.
    await assert.rejects(
      loadDataset('MNIST', { dataDir: dir, download: false }),
      /train-images-idx3-ubyte\.gz: checksum mismatch/,
    );
    // A file named as verified already (a training process reading its sweep's files) is taken
    // with the verification recorded for it, without hashing; one not named is still checked.
    const names = DATASETS.MNIST.files.map((f) => f.name);
    const verified = new Map(names.map((n) => [join(dir, n), 'md5' as const]));
    const trusted = await loadDataset('MNIST', { dataDir: dir, download: false, verified });
    assert.deepEqual(
      trusted.files.map((f) => [f.path, f.verifiedBy]),
      names.map((n) => [join(dir, n), 'md5']),
    );
    verified.delete(join(dir, 'train-images-idx3-ubyte.gz'));
    await assert.rejects(
      loadDataset('MNIST', { dataDir: dir, download: false, verified }),
      /train-images-idx3-ubyte\.gz: checksum mismatch/,
    );
  });
});

describe('CIFAR archives', () => {
  it('reads the records of a tar.gz with the published member names', async () => {
    const archive = await writeCifarArchive(tmp());
    const { train, test } = await readCifarArchive(archive, 'cifar10');
    assert.equal(train.count, 15);
    assert.equal(test.count, 4);
    assert.deepEqual(Array.from(train.labels), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4]);
    // Channel-major pixels: the green plane of image 7 starts at 7 + 50.
    assert.equal(train.images[7 * 3072 + 1024], 57);
  });

  it('reads CIFAR-100 records with their fine labels', async () => {
    const { train, test } = await readCifarArchive(await writeCifar100Archive(tmp()), 'cifar100');
    assert.equal(train.count, 5);
    assert.equal(test.count, 2);
    assert.deepEqual(Array.from(train.labels), [0, 7, 14, 21, 28]);
    assert.equal(train.images[3 * 3072 + 100], 3);
  });

  const hostile: [string, (root: string) => string[]][] = [
    [
      "a member named '../x'",
      (root) => {
        writeFileSync(join(root, '..', 'x'), 'escape');
        return ['../x'];
      },
    ],
    [
      'a symbolic link',
      (root) => {
        symlinkSync('/etc/passwd', join(root, 'cifar-10-batches-bin', 'data_batch_6.bin'));
        return [];
      },
    ],
    [
      'an unexpected file',
      (root) => {
        writeFileSync(join(root, 'cifar-10-batches-bin', 'run.sh'), 'echo');
        return [];
      },
    ],
  ];
  for (const [what, extra] of hostile) {
    it(`refuses ${what}`, async () => {
      const archive = await writeCifarArchive(tmp(), extra);
      await assert.rejects(readCifarArchive(archive, 'cifar10'), (e: Error) => {
        assert.match(e.message, /cifar-10-binary\.tar\.gz: refused tar member/);
        return true;
      });
    });
  }

  it('refuses a damaged archive and a record file of the wrong size', async () => {
    const dir = tmp();
    const archive = await writeCifarArchive(dir);
    const bytes = readFileSync(archive);
    writeFileSync(archive, bytes.subarray(0, bytes.length - 100));
    await assert.rejects(
      readCifarArchive(archive, 'cifar10'),
      /cifar-10-binary\.tar\.gz: damaged archive/,
    );
    const odd = await writeCifarArchive(tmp(), (root) => {
      writeFileSync(join(root, 'cifar-10-batches-bin', 'test_batch.bin'), new Uint8Array(100));
      return [];
    });
    await assert.rejects(
      readCifarArchive(odd, 'cifar10'),
      /test_batch\.bin holds 100 bytes, not a whole number of 3073-byte records/,
    );
  });
});

describe('downloads from a local server', () => {
  const body = Uint8Array.from({ length: 200000 }, (_, i) => (i * 13) % 251);
  const good = (p: string): Promise<boolean> => Promise.resolve(md5(readFileSync(p)) === md5(body));

  it('downloads and verifies', async () => {
    const server = await serveFiles({ 'f.bin': { body } });
    const dest = join(tmp(), 'f.bin');
    await downloadVerified([`${server.url}f.bin`], dest, good, quick);
    assert.deepEqual(readFileSync(dest), Buffer.from(body));
    await server.close();
  });

  it('resumes after a cut connection with an HTTP Range request', async () => {
    const server = await serveFiles({ 'f.bin': { body, cutAfter: 65536 } });
    const dest = join(tmp(), 'f.bin');
    await downloadVerified([`${server.url}f.bin`], dest, good, quick);
    assert.deepEqual(readFileSync(dest), Buffer.from(body));
    const ranges = server.requests.map((r) => r.headers.range);
    assert.equal(ranges[0], undefined);
    assert.match(ranges[1] ?? '', /^bytes=\d+-$/);
    assert.ok(Number(/\d+/.exec(ranges[1] ?? '')?.[0]) > 0);
    assert.equal(existsSync(`${dest}.part`), false);
    await server.close();
  });

  it('retries after server errors', async () => {
    const server = await serveFiles({ 'f.bin': { body, failFirst: 2 } });
    const dest = join(tmp(), 'f.bin');
    await downloadVerified([`${server.url}f.bin`], dest, good, quick);
    assert.equal(server.requests.length, 3);
    await server.close();
  });

  it('refuses a file with the wrong checksum and keeps nothing of it', async () => {
    const server = await serveFiles({ 'f.bin': { body: body.map((v) => v ^ 1) } });
    const dest = join(tmp(), 'f.bin');
    await assert.rejects(
      downloadVerified([`${server.url}f.bin`], dest, good, quick),
      /checksum mismatch .*the download was deleted/,
    );
    assert.equal(existsSync(dest), false);
    assert.equal(existsSync(`${dest}.part`), false);
    await server.close();
  });

  it('fetches a dataset through a mirror into the cache, verified', async () => {
    const dir = tmp();
    writeMnistLike(dir);
    const files = Object.fromEntries(
      DATASETS.MNIST.files.map((f) => [f.name, { body: readFileSync(join(dir, f.name)) }]),
    );
    const server = await serveFiles(files);
    const spec: DatasetSpec = {
      ...DATASETS.MNIST,
      files: DATASETS.MNIST.files.map((f) => ({
        name: f.name,
        md5: md5(files[f.name]?.body ?? new Uint8Array()),
      })),
    };
    const located = await locateDataset(spec, { mirrors: [server.url], downloadOptions: quick });
    assert.deepEqual(
      located.map((f) => f.origin),
      ['download', 'download', 'download', 'download'],
    );
    for (const f of located) assert.ok(f.path.startsWith(process.env.FEATSHIFT_CACHE_DIR ?? '-'));
    // A second look finds them in the cache, with no request.
    const before = server.requests.length;
    assert.deepEqual(
      (await locateDataset(spec, { mirrors: [server.url] })).map((f) => f.origin),
      Array(4).fill('cache'),
    );
    assert.equal(server.requests.length, before);
    await server.close();
  });

  it('offline with no copy: one line naming the file, the URL tried and the ways to supply it', () => {
    const r = runCli(['data', 'fetch', 'KMNIST', '--quiet'], {
      env: { FEATSHIFT_DATA_MIRROR: 'http://127.0.0.1:1/', FEATSHIFT_CACHE_DIR: tmp() },
    });
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(
      r.stderr,
      /train-images-idx3-ubyte\.gz of KMNIST is missing and could not be downloaded/,
    );
    assert.match(r.stderr, /http:\/\/127\.0\.0\.1:1\/train-images-idx3-ubyte\.gz/);
    assert.match(r.stderr, /--data-dir DIR/);
  });
});

describe('image folders', () => {
  function writeImages(root: string): void {
    for (const [split, n] of [
      ['train', 3],
      ['val', 2],
    ] as const) {
      for (const cls of ['dog', 'cat']) {
        const dir = join(root, split, cls);
        mkdirSync(dir, { recursive: true });
        for (let i = 0; i < n; i++) {
          const png = new PNG({ width: 8, height: 6 });
          png.data.fill(cls === 'cat' ? 200 : 40);
          writeFileSync(join(dir, `${i}.png`), PNG.sync.write(png));
        }
        const raw = { width: 4, height: 4, data: Buffer.alloc(64, 128) };
        writeFileSync(join(dir, 'extra.jpg'), jpeg.encode(raw, 95).data);
      }
    }
  }

  it('lists PNG and JPEG files, one sub-folder per class, classes sorted, and streams them', async () => {
    const root = tmp();
    writeImages(root);
    const d = await loadImageFolders(join(root, 'train'), join(root, 'val'));
    assert.deepEqual(d.classes, ['cat', 'dog']);
    assert.equal(d.train.count, 8);
    assert.equal(d.val.count, 6);
    assert.deepEqual(Array.from(d.train.labels), [0, 0, 0, 0, 1, 1, 1, 1]);
    assert.deepEqual(Array.from(d.val.labels), [0, 0, 0, 1, 1, 1]);
    // ImageFolder's order: cat/0.png .. cat/extra.jpg, then dog/.
    assert.deepEqual(
      d.train.paths.map((p) => p.slice(root.length + 1)),
      ['0.png', '1.png', '2.png', 'extra.jpg']
        .flatMap((f) => [`train/cat/${f}`])
        .concat(['0.png', '1.png', '2.png', 'extra.jpg'].map((f) => `train/dog/${f}`)),
    );
    const options = { batchSize: 3, patchSize: 32, seed: 4, normalize: null };
    const one = new ImageFolderLoader(d.train, d.val, { ...options, threads: 1 });
    const two = new ImageFolderLoader(d.train, d.val, { ...options, threads: 2 });
    try {
      // Validation: centre crops in file order; cat/0.png is 200 everywhere, cat/extra.jpg 128.
      const val = await collect(one.validation.batches(0));
      assert.deepEqual(
        val.map((b) => b.count),
        [3, 3],
      );
      const [cats, dogs] = val;
      assert.ok(cats && dogs);
      assert.equal(cats.x[0], Math.fround(200 / 255));
      assert.equal(cats.x[2 * 3 * 32 * 32], Math.fround(128 / 255));
      assert.equal(dogs.x[0], Math.fround(40 / 255)); // dog/0.png
      // Training: every image once an epoch, the same batches whatever the threads, and a
      // resumed epoch (from batch 1) rebuilds the same batches.
      const epoch = await collect(one.batches(1));
      assert.deepEqual(
        epoch.map((b) => b.count),
        [3, 3, 2],
      );
      assert.deepEqual(
        epoch.flatMap((b) => Array.from(b.y, Number)).sort(),
        [0, 0, 0, 0, 1, 1, 1, 1],
      );
      assert.deepEqual(await collect(two.batches(1)), epoch);
      assert.deepEqual(await collect(two.batches(1, 1)), epoch.slice(1));
      assert.notDeepEqual((await collect(one.batches(2)))[0]?.x, epoch[0]?.x);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('refuses, by name, a file whose header is fine but whose data does not decode, when a batch reaches it', async () => {
    const root = tmp();
    writeImages(root);
    const good = readFileSync(join(root, 'val', 'dog', 'extra.jpg'));
    // The header and the first segments survive; the scan data is cut off.
    writeFileSync(join(root, 'val', 'dog', 'cut.jpg'), good.subarray(0, good.length - 40));
    const d = await loadImageFolders(join(root, 'train'), join(root, 'val'));
    const loader = new ImageFolderLoader(d.train, d.val, {
      batchSize: 4,
      patchSize: 32,
      seed: 0,
      normalize: null,
      threads: 2,
    });
    try {
      await assert.rejects(collect(loader.validation.batches(0)), (e: unknown) => {
        assert.ok(e instanceof DataError, String(e));
        assert.match(e.message, /val\/dog\/cut\.jpg: unreadable image/);
        return true;
      });
    } finally {
      await loader.close();
    }
  });

  it('refuses a folder without classes, other classes in val/, and an unreadable image, by name', async () => {
    const empty = tmp();
    mkdirSync(join(empty, 'train'));
    mkdirSync(join(empty, 'val'));
    await assert.rejects(
      loadImageFolders(join(empty, 'train'), join(empty, 'val')),
      /train: no class folders/,
    );
    const root = tmp();
    writeImages(root);
    mkdirSync(join(root, 'val', 'bird'));
    await assert.rejects(
      loadImageFolders(join(root, 'train'), join(root, 'val')),
      /val: the class folders differ .*only here: bird/,
    );
    const other = tmp();
    writeImages(other);
    writeFileSync(join(other, 'train', 'dog', 'broken.png'), 'not a png');
    await assert.rejects(
      loadImageFolders(join(other, 'train'), join(other, 'val')),
      /broken\.png: unreadable image/,
    );
    writeFileSync(
      join(other, 'train', 'dog', 'broken.png'),
      PNG.sync.write(new PNG({ width: 2, height: 2 })),
    );
    writeFileSync(join(other, 'train', 'dog', 'z.bmp'), 'BM');
    await assert.rejects(
      loadImageFolders(join(other, 'train'), join(other, 'val')),
      /z\.bmp: \.bmp images are not supported/,
    );
  });
});

describe('resizing', () => {
  it("equals Pillow's bilinear resize, byte for byte", () => {
    const { cases } = readFixture<{
      cases: { in: [number, number]; out: [number, number]; src: number[]; expected: number[] }[];
    }>('pil-bilinear.json');
    for (const c of cases) {
      const out = resizeBilinear(Uint8Array.from(c.src), 1, c.in[0], c.in[1], c.out[0], c.out[1]);
      assert.deepEqual(Array.from(out), c.expected, `${c.in.join('x')} -> ${c.out.join('x')}`);
    }
  });
});
