import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ops, setThreads, tensor, tidy, type Tensor } from '../src/engine/index.js';
import { Vgg } from '../src/models/vgg.js';
import { Sgd } from '../src/train/sgd.js';
import { readFixture } from './helpers/paths.js';

interface Dumped {
  shape: number[];
  data: number[];
}
interface Parity {
  widths: number[];
  classes: number;
  eps: number;
  input: Dumped;
  targets: number[];
  initial: Record<string, Dumped>;
  logits: Dumped;
  loss: number;
  grads: Record<string, Dumped>;
  afterThreeSteps: Record<string, Dumped>;
  afterThreeStepsNesterov: Record<string, Dumped>;
}

const fixture = readFixture<Parity>('engine-parity.json');

function toTensor(d: Dumped, name: string): Tensor {
  return name.endsWith('num_batches_tracked')
    ? tensor(
        BigInt64Array.from(d.data, (v) => BigInt(v)),
        d.shape,
      )
    : tensor(Float32Array.from(d.data), d.shape);
}

/**
 * Element-wise: the largest |a - b| / max(|b|, 1 % of the tensor's largest |b|), so that elements
 * near zero are judged on the tensor's scale. Norm-wise: ||a - b|| / ||b||.
 */
function assertClose(
  actual: ArrayLike<number | bigint>,
  expected: Dumped,
  what: string,
  mode: 'element' | 'norm' = 'element',
  tolerance = 1e-4,
): void {
  assert.equal(actual.length, expected.data.length, `${what}: element count`);
  if (mode === 'norm') {
    let diff = 0;
    let norm = 0;
    for (let i = 0; i < actual.length; i++) {
      const e = expected.data[i] as number;
      diff += (Number(actual[i]) - e) ** 2;
      norm += e * e;
    }
    const relative = Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-30);
    assert.ok(
      relative <= tolerance,
      `${what}: norm-wise relative error ${relative.toExponential(2)}`,
    );
    return;
  }
  const scale = Math.max(...expected.data.map(Math.abs), 1e-12);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = Number(actual[i]);
    const e = expected.data[i] as number;
    worst = Math.max(worst, Math.abs(a - e) / Math.max(Math.abs(e), scale * 1e-2));
  }
  assert.ok(worst <= tolerance, `${what}: relative error ${worst.toExponential(2)} > ${tolerance}`);
}

function model(channelsLast: boolean): Vgg {
  const m = new Vgg(fixture.widths, {
    classes: fixture.classes,
    batchNormEps: fixture.eps,
    dropout: 0,
    channelsLast,
  });
  const initial = new Map(Object.entries(fixture.initial).map(([k, v]) => [k, toTensor(v, k)]));
  m.loadState(initial);
  for (const t of initial.values()) t.dispose();
  return m;
}

const batch = (): { x: Tensor; y: Tensor } => ({
  x: toTensor(fixture.input, 'input'),
  y: tensor(
    BigInt64Array.from(fixture.targets, (v) => BigInt(v)),
    [fixture.targets.length],
  ),
});

describe('parity with PyTorch (float32, same weights, same batch)', () => {
  setThreads(1);

  it('names parameters and buffers as the PyTorch module tree does', () => {
    const m = model(false);
    assert.deepEqual(
      m
        .state()
        .map((s) => s.name)
        .sort(),
      Object.keys(fixture.initial).sort(),
    );
    assert.deepEqual(
      m
        .parameters()
        .map((p) => p.name)
        .sort(),
      Object.keys(fixture.grads).sort(),
    );
    m.dispose();
  });

  // NCHW, PyTorch's default layout, must agree element by element. Channels-last convolutions sum
  // in another order (oneDNN's NHWC kernels): there the whole tensor must agree within 1e-4.
  const layouts = [
    { channelsLast: false, label: 'NCHW', mode: 'element' },
    { channelsLast: true, label: 'channels-last', mode: 'norm' },
  ] as const;

  for (const { channelsLast, label, mode } of layouts) {
    it(`gives the same logits, loss and gradients after one step (${label})`, () => {
      const m = model(channelsLast);
      const { x, y } = batch();
      tidy(() => {
        const logits = m.forward(x, true);
        assertClose(logits.toFloat32(), fixture.logits, 'logits', mode);
        const loss = ops.crossEntropy(logits, y);
        assertClose([loss.item()], { shape: [], data: [fixture.loss] }, 'loss', mode);
        loss.backward();
      });
      for (const p of m.parameters()) {
        const grad = p.tensor.grad;
        assert.ok(grad, `${p.name} has a gradient`);
        assertClose(
          grad.contiguous().toFloat32(),
          fixture.grads[p.name] as Dumped,
          `grad ${p.name}`,
          mode,
        );
      }
      m.dispose();
    });
  }

  for (const [nesterov, { channelsLast, label, mode }] of [
    [false, layouts[0]],
    [true, layouts[0]],
    [false, layouts[1]],
  ] as const) {
    it(`gives the same weights and running statistics after three SGD steps (${nesterov ? 'Nesterov, ' : ''}${label})`, () => {
      const m = model(channelsLast);
      const { x, y } = batch();
      const sgd = new Sgd(m.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, nesterov });
      for (let step = 0; step < 3; step++) {
        sgd.zeroGrad();
        tidy(() => {
          ops.crossEntropy(m.forward(x, true), y).backward();
        });
        sgd.step();
      }
      const expected = nesterov ? fixture.afterThreeStepsNesterov : fixture.afterThreeSteps;
      for (const s of m.state()) {
        assertClose(s.tensor.contiguous().data(), expected[s.name] as Dumped, s.name, mode);
      }
      sgd.dispose();
      m.dispose();
    });
  }
});
