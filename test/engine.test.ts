import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { tcmallocHere } from './helpers/tcmalloc.js';
import { repoRoot } from './helpers/paths.js';
import {
  buildInfo,
  checkDevice,
  devices,
  hostMemory,
  manualSeed,
  noGrad,
  ops,
  releaseHostMemory,
  setThreads,
  tensor,
  threads,
  tidy,
  trackedTensorCount,
  zeros,
  Tensor,
} from '../src/engine/index.js';

describe('engine tensors', () => {
  it('round-trips host data with shape, dtype and device', () => {
    const t = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    assert.deepEqual(t.shape, [2, 3]);
    assert.equal(t.dtype, 'float32');
    assert.equal(t.device, 'cpu');
    assert.deepEqual(Array.from(t.data() as Float32Array), [1, 2, 3, 4, 5, 6]);
    const labels = tensor(new BigInt64Array([3n, 1n]), [2]);
    assert.equal(labels.dtype, 'int64');
    assert.equal(t.to('cpu', 'float64').dtype, 'float64');
    t.dispose();
    assert.ok(t.disposed);
    assert.throws(() => t.shape, /disposed/);
  });

  it('refuses shape mismatches and bad shapes with a clear error', () => {
    assert.throws(() => tensor(new Float32Array(4), [2, 3]), /6 elements but the data has 4/);
    assert.throws(() => zeros([2, -1]), /non-negative integers/);
    const x = zeros([2, 3]);
    assert.throws(() => ops.conv2d(x, x, null), /Expected 3D \(unbatched\) or 4D/);
    assert.throws(
      () => ops.linear(zeros([2, 3]), zeros([4, 5]), null),
      /shapes cannot be multiplied/,
    );
  });

  it('refuses unknown and unavailable devices', () => {
    assert.throws(() => checkDevice('tpu'), /unknown device 'tpu'/);
    assert.equal(checkDevice('cpu'), 'cpu');
    assert.throws(() => checkDevice('cuda:0'), /no CUDA|not available/);
    assert.throws(() => tensor([1], [1], 'gpu'), /unknown device 'gpu'/);
    assert.throws(() => zeros([1], 'float32', 'cuda:0'), /cuda:0.*(no CUDA|not available)/);
    assert.throws(() => zeros([1]).to('cuda:1'), /cuda:1.*(no CUDA|not available)/);
  });

  it('frees every tensor a scope created except what it returns', () => {
    let inner: Tensor | undefined;
    const kept = tidy(() => {
      inner = ops.add(zeros([4]), 1);
      return ops.mul(inner, 2);
    });
    assert.ok(inner?.disposed);
    assert.equal(kept.disposed, false);
    assert.deepEqual(Array.from(kept.data() as Float32Array), [2, 2, 2, 2]);
    assert.equal(trackedTensorCount(), 0);
    assert.throws(() => tidy(() => ops.add(zeros([2]), zeros([3]))), /size of tensor/);
    assert.equal(trackedTensorCount(), 0);
  });

  it('computes gradients with autograd and not under noGrad', () => {
    const w = tensor([1, 2, 3]).setRequiresGrad();
    tidy(() => {
      ops.sum(ops.square(w)).backward();
    });
    assert.deepEqual(Array.from(w.grad?.data() as Float32Array), [2, 4, 6]);
    w.zeroGrad();
    assert.deepEqual(Array.from(w.grad?.data() as Float32Array), [0, 0, 0]);
    const y = noGrad(() => ops.mul(w, 2));
    assert.equal(y.requiresGrad, false);
  });

  it('computes cross-entropy and top-k accuracy as PyTorch defines them', () => {
    const logits = tensor([2, 1, 0, 0, 0, 3], [2, 3]);
    const targets = tensor(new BigInt64Array([0n, 1n]), [2]);
    const loss = ops.crossEntropy(logits, targets).item();
    const lse = (a: number[]) => Math.log(a.reduce((s, v) => s + Math.exp(v), 0));
    const expected = (lse([2, 1, 0]) - 2 + (lse([0, 0, 3]) - 0)) / 2;
    assert.ok(Math.abs(loss - expected) < 1e-6);
    assert.equal(ops.topkCorrect(logits, targets, 1), 1);
    assert.equal(ops.topkCorrect(logits, targets, 3), 2);
  });

  it('is seeded and sets the thread count', () => {
    manualSeed(7);
    const a = zeros([5]).normal_(0, 1).data();
    manualSeed(7);
    const b = zeros([5]).normal_(0, 1).data();
    assert.deepEqual(a, b);
    setThreads(1);
    assert.equal(threads(), 1);
    setThreads(2);
    assert.equal(threads(), 2);
    assert.throws(() => {
      setThreads(0);
    }, /positive integer/);
  });

  it('lays tensors out channels-last on request', () => {
    const x = zeros([2, 3, 4, 4]);
    assert.equal(x.isChannelsLast, false);
    assert.equal(x.channelsLast().isChannelsLast, true);
  });
});

describe('host memory', () => {
  const MiB = 2 ** 20;
  const residentMiB = (): number =>
    (Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096) / MiB;
  // Where the machine has no tcmalloc the block cache serves.
  const needsTcmalloc = { skip: tcmallocHere ? false : 'no tcmalloc on this machine' };

  it("holds tensors in tcmalloc's page heap where the system has it, else in the block cache", () => {
    assert.equal(hostMemory().allocator, tcmallocHere ? 'tcmalloc' : 'block-cache');
  });

  it('counts what tensors hold and keeps freed pages until released', needsTcmalloc, () => {
    // From tcmalloc's heap, or, from 1 MiB on where whole 2 MiB pages fit closely enough, a block
    // of them (3 MiB would be rounded up by a third: tcmalloc's).
    for (const [bytes, most] of [
      [512 * 1024, 512 * 1024 + 64 * 1024],
      [3 * MiB, 3 * MiB + 64 * 1024],
      [4 * MiB, 4 * MiB],
      [15 * MiB, 16 * MiB],
    ] as const) {
      releaseHostMemory(0);
      const start = hostMemory();
      const a = zeros([bytes / 4]);
      const held = hostMemory().inUseBytes - start.inUseBytes;
      assert.ok(held >= bytes && held <= most, `${bytes} bytes counted as ${held}`);
      assert.ok(hostMemory().peakInUseBytes >= start.inUseBytes + bytes);
      a.dispose();
      assert.equal(hostMemory().inUseBytes, start.inUseBytes);
      assert.ok(hostMemory().cachedBytes >= bytes, 'the freed pages are kept');
      assert.ok(releaseHostMemory(0) >= bytes, 'they count as held');
      const after = hostMemory();
      assert.ok(after.cachedBytes < bytes, `${after.cachedBytes} bytes still held after release`);
      assert.equal(after.peakInUseBytes, after.inUseBytes, 'a release starts a new peak');
    }
  });

  it('serves smaller tensors from the pages a larger one freed', needsTcmalloc, () => {
    // A step asks, away from its peak, for sizes its peak did not hold (the backward pass's).
    // Kept by size, the block cache once mapped new memory for them next to the freed block:
    // VGG-16 peaked at 860 MB resident, PyTorch with tcmalloc at 775 MB; split from freed pages,
    // 755 MB.
    releaseHostMemory(0);
    zeros([16 * MiB]).dispose(); // 64 MiB written, then freed
    const before = residentMiB();
    const halves = [zeros([8 * MiB])]; // 32 MiB
    const grownByOne = residentMiB() - before;
    halves.push(zeros([8 * MiB]));
    const grownByTwo = residentMiB() - before;
    for (const h of halves) h.dispose();
    releaseHostMemory(0);
    for (const grown of [grownByOne, grownByTwo])
      assert.ok(
        grown < 8,
        `resident memory grew by ${grown.toFixed(0)} MiB into 64 MiB just freed`,
      );
  });

  // The featshift command's process runs on tcmalloc altogether (scripts/with-tcmalloc.sh): the
  // handles' small parts then share its heap with the tensors.
  const runs = [
    { name: 'tcmalloc', allocator: 'tcmalloc', preload: false },
    { name: 'block-cache', allocator: 'block-cache', preload: false },
    { name: 'tcmalloc preloaded, as the featshift command runs', allocator: 'auto', preload: true },
  ] as const;
  for (const run of runs) {
    const title = `stays flat over many training steps that never return to the event loop (${run.name})`;
    it(title, run.allocator === 'block-cache' ? {} : needsTcmalloc, () => {
      // With libtorch's allocator (FEATSHIFT_HOST_ALLOCATOR=libtorch) this small VGG's resident
      // memory grew by about 100 MB between these steps, and went on growing: glibc's heap
      // fragmented around the tensor handles whose native parts Node-API frees only later, on the
      // event loop.
      const program = [process.execPath, 'dist/test/helpers/resident-steps.js', '100'];
      const [command, ...args] = run.preload ? ['scripts/with-tcmalloc.sh', ...program] : program;
      const r = spawnSync(command as string, args, {
        cwd: repoRoot,
        // Not preloaded: on glibc, whatever this test's own process was started with.
        env: {
          ...process.env,
          FEATSHIFT_HOST_ALLOCATOR: run.allocator,
          ...(run.preload ? {} : { LD_PRELOAD: '' }),
        },
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      const { resident, malloc } = JSON.parse(r.stdout) as { resident: number[]; malloc: string };
      assert.equal(malloc, run.preload ? 'tcmalloc' : 'glibc');
      const growth = (resident[99] ?? 0) - (resident[19] ?? 0);
      assert.ok(growth < 16, `resident memory grew by ${growth} MiB from step 20 to step 100`);
    });
  }
});

describe('engine defaults and build configuration', () => {
  it('uses every core by default and FEATSHIFT_THREADS when set', () => {
    const script = "import('./dist/src/engine/index.js').then((e) => console.log(e.threads()))";
    const run = (env: NodeJS.ProcessEnv): string =>
      spawnSync(process.execPath, ['-e', script], {
        cwd: repoRoot,
        env: { ...process.env, ...env },
        encoding: 'utf8',
      }).stdout.trim();
    assert.equal(run({ FEATSHIFT_THREADS: '' }), String(availableParallelism()));
    assert.equal(run({ FEATSHIFT_THREADS: '1' }), '1');
  });

  it('names both ways to get a libtorch when none is found', () => {
    const r = spawnSync(process.execPath, ['scripts/libtorch-config.cjs', 'include'], {
      cwd: repoRoot,
      env: { ...process.env, LIBTORCH: '/nonexistent/libtorch' },
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /LIBTORCH=\/nonexistent\/libtorch has no include/);
    assert.match(r.stderr, /apt-get install libtorch-dev/);
    assert.match(r.stderr, /LIBTORCH=\/path\/to\/libtorch npm ci/);
  });

  it('reports the libtorch build', () => {
    const info = buildInfo();
    assert.match(info.version, /^\d+\.\d+/);
    assert.equal(typeof info.mkldnn, 'boolean');
    assert.deepEqual(devices()[0], 'cpu');
  });
});
