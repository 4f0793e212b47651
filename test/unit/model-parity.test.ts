import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ops, setThreads, tensor, tidy, type Tensor } from '../../src/engine/index.js';
import { Vgg } from '../../src/models/vgg.js';
import { Sgd } from '../../src/train/sgd.js';
import { readFixture } from '../helpers/paths.js';

interface Dumped {
  shape: number[];
  data: number[];
}
interface Step {
  initial: Record<string, Dumped>;
  logits: Dumped;
  loss: number;
  grads: Record<string, Dumped>;
}
interface Parity extends Step {
  widths: number[];
  classes: number;
  eps: number;
  dtype: 'float64';
  input: Dumped;
  targets: number[];
  afterThreeSteps: Record<string, Dumped>;
  afterThreeStepsNesterov: Record<string, Dumped>;
  noBatchNorm: Step;
}

/** PyTorch's numbers in float64 (scripts/reference/engine_parity.py): the same on every CPU. */
const fixture = readFixture<Parity>('engine-parity.json');

/**
 * Where the network computes: the CPU, or a GPU where the GPU check (scripts/device/gpu-check.sh)
 * runs these tests with FEATSHIFT_TEST_DEVICE=cuda:0 against the same float64 reference.
 */
const DEVICE = process.env.FEATSHIFT_TEST_DEVICE ?? 'cpu';

type Precision = 'float64' | 'float32';

/**
 * How far featshift may be from the float64 reference, and how it is measured.
 *
 * float64: element by element, 1e-9 relative. Any summation order (oneDNN's, MKL's, another
 * thread count's) rounds within a few 1e-16 per operation; this network accumulates a few
 * hundred of them: measured at most 1.4e-12 with oneDNN's AVX-512, AVX2 and SSE4.1 kernels and
 * ATen's default ones, on 1 and 2 threads. A real error (a wrong epsilon, a missing term) is
 * orders of magnitude above 1e-9.
 *
 * float32: tensor by tensor (norm-wise), 5e-4 relative. float32 rounds at 6e-8 per operation;
 * the gradients pass back through batch norm over 4 images, which amplifies the rounding of
 * single elements up to about 1e-3 (element-wise, measured 8e-4 for a batch-norm bias), and three
 * SGD steps feed them into the weights. Norm-wise, the same runs as above measured at most 3e-5.
 * The float64 comparison carries the exactness; this one shows that the float32 path, the one
 * that trains, computes the same network on any processor's kernels.
 */
const TOLERANCE: Record<Precision, { mode: 'element' | 'norm'; tolerance: number }> = {
  float64: { mode: 'element', tolerance: 1e-9 },
  float32: { mode: 'norm', tolerance: 5e-4 },
};

/** A host tensor moved to the device the tests run on (itself on the CPU). */
function onDevice(host: Tensor): Tensor {
  if (DEVICE === 'cpu') return host;
  const moved = host.to(DEVICE);
  host.dispose();
  return moved;
}

function toTensor(d: Dumped, name: string, precision: Precision): Tensor {
  const host = name.endsWith('num_batches_tracked')
    ? tensor(
        BigInt64Array.from(d.data, (v) => BigInt(v)),
        d.shape,
      )
    : tensor(
        precision === 'float64' ? Float64Array.from(d.data) : Float32Array.from(d.data),
        d.shape,
      );
  return onDevice(host);
}

/** The largest relative error: element-wise (judged on the tensor's scale near zero) or norm-wise. */
function relativeError(
  actual: ArrayLike<number | bigint>,
  expected: readonly number[],
  mode: 'element' | 'norm',
): number {
  assert.equal(actual.length, expected.length, 'element count');
  if (mode === 'norm') {
    let diff = 0;
    let norm = 0;
    for (let i = 0; i < actual.length; i++) {
      const e = expected[i] as number;
      diff += (Number(actual[i]) - e) ** 2;
      norm += e * e;
    }
    return Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-30);
  }
  const scale = Math.max(...expected.map(Math.abs), 1e-12);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = Number(actual[i]);
    const e = expected[i] as number;
    worst = Math.max(worst, Math.abs(a - e) / Math.max(Math.abs(e), scale * 1e-2));
  }
  return worst;
}

function assertClose(
  actual: ArrayLike<number | bigint>,
  expected: Dumped,
  what: string,
  precision: Precision,
): void {
  const { mode, tolerance } = TOLERANCE[precision];
  const error = relativeError(actual, expected.data, mode);
  assert.ok(
    error <= tolerance,
    `${what}: ${mode}-wise relative error ${error.toExponential(2)} > ${tolerance} (${precision})`,
  );
}

function loadInto(m: Vgg, initial: Record<string, Dumped>, precision: Precision): Vgg {
  const values = new Map(Object.entries(initial).map(([k, v]) => [k, toTensor(v, k, precision)]));
  m.loadState(values);
  for (const t of values.values()) t.dispose();
  return m;
}

function model(channelsLast: boolean, precision: Precision, eps = fixture.eps): Vgg {
  const m = new Vgg(fixture.widths, {
    classes: fixture.classes,
    batchNorm: eps,
    dropout: 0,
    memoryFormat: channelsLast ? 'channels-last' : 'nchw',
    dtype: precision,
    device: DEVICE,
  });
  return loadInto(m, eps === 0 ? fixture.noBatchNorm.initial : fixture.initial, precision);
}

const batch = (precision: Precision): { x: Tensor; y: Tensor } => ({
  x: toTensor(fixture.input, 'input', precision),
  y: onDevice(
    tensor(
      BigInt64Array.from(fixture.targets, (v) => BigInt(v)),
      [fixture.targets.length],
    ),
  ),
});

/** Logits, loss and every gradient of one training-mode pass, checked against `expected`. */
function checkOneStep(m: Vgg, expected: Step, precision: Precision): void {
  const { x, y } = batch(precision);
  tidy(() => {
    const logits = m.forward(x, true);
    assertClose(logits.contiguous().data(), expected.logits, 'logits', precision);
    const loss = ops.crossEntropy(logits, y);
    assertClose([loss.item()], { shape: [], data: [expected.loss] }, 'loss', precision);
    loss.backward();
  });
  for (const p of m.parameters()) {
    const grad = p.tensor.grad;
    assert.ok(grad, `${p.name} has a gradient`);
    assertClose(
      grad.contiguous().data(),
      expected.grads[p.name] as Dumped,
      `grad ${p.name}`,
      precision,
    );
  }
  x.dispose();
  y.dispose();
}

function threeSgdSteps(m: Vgg, nesterov: boolean, precision: Precision): void {
  const { x, y } = batch(precision);
  const sgd = new Sgd(m.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, nesterov });
  for (let step = 0; step < 3; step++) {
    sgd.zeroGrad();
    tidy(() => {
      ops.crossEntropy(m.forward(x, true), y).backward();
    });
    sgd.step();
  }
  sgd.dispose();
  x.dispose();
  y.dispose();
}

describe('parity with PyTorch (same weights, same batch, float64 reference)', () => {
  setThreads(1);

  it('names parameters and buffers as the PyTorch module tree does, with and without batch norm', () => {
    for (const [eps, expected] of [
      [fixture.eps, fixture],
      [0, fixture.noBatchNorm],
    ] as const) {
      const m = model(false, 'float32', eps);
      assert.deepEqual(
        m
          .state()
          .map((s) => s.name)
          .sort(),
        Object.keys(expected.initial).sort(),
      );
      assert.deepEqual(
        m
          .parameters()
          .map((p) => p.name)
          .sort(),
        Object.keys(expected.grads).sort(),
      );
      m.dispose();
    }
  });

  const cases = [
    { channelsLast: false, label: 'NCHW' },
    { channelsLast: true, label: 'channels-last' },
  ] as const;

  for (const precision of ['float64', 'float32'] as const) {
    for (const { channelsLast, label } of cases) {
      it(`gives the same logits, loss and gradients after one step (${precision}, ${label})`, () => {
        const m = model(channelsLast, precision);
        checkOneStep(m, fixture, precision);
        m.dispose();
      });

      it(`gives the same weights and running statistics after three SGD steps, plain and Nesterov (${precision}, ${label})`, () => {
        for (const nesterov of [false, true]) {
          const m = model(channelsLast, precision);
          threeSgdSteps(m, nesterov, precision);
          const expected = nesterov ? fixture.afterThreeStepsNesterov : fixture.afterThreeSteps;
          for (const s of m.state()) {
            assertClose(
              s.tensor.contiguous().data(),
              expected[s.name] as Dumped,
              s.name,
              precision,
            );
          }
          m.dispose();
        }
      });
    }

    it(`builds the network without batch norm as the reference's --batch-norm 0 does (${precision})`, () => {
      const m = model(true, precision, 0);
      checkOneStep(m, fixture.noBatchNorm, precision);
      m.dispose();
    });
  }

  it('would catch a real error: another batch-norm epsilon or a Nesterov step fails the comparison', () => {
    // A batch-norm epsilon of 1e-5 instead of 1e-4: a 5e-5 relative change of the normalised
    // activations, far above the float64 tolerance.
    const wrongEps = model(false, 'float64', 1e-5);
    assert.throws(() => {
      checkOneStep(wrongEps, fixture, 'float64');
    }, /relative error/);
    wrongEps.dispose();
    // Nesterov's update where the plain one is expected: caught at the float32 tolerance too.
    for (const precision of ['float64', 'float32'] as const) {
      const m = model(true, precision);
      threeSgdSteps(m, true, precision);
      assert.throws(() => {
        for (const s of m.state()) {
          assertClose(
            s.tensor.contiguous().data(),
            fixture.afterThreeSteps[s.name] as Dumped,
            s.name,
            precision,
          );
        }
      }, /relative error/);
      m.dispose();
    }
  });
});
