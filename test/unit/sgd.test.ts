import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keep, ops, tensor, tidy, type Tensor } from '../../src/engine/index.js';
import { Sgd, type SgdOptions } from '../../src/train/sgd.js';

/** torch.optim.SGD's loop for one parameter, in plain arithmetic (float64). */
function referenceStep(
  p: number[],
  g: number[],
  buf: number[] | undefined,
  o: Required<SgdOptions>,
): number[] | undefined {
  const d = g.map((gi, i) => gi + o.weightDecay * (p[i] as number));
  let step = d;
  let next = buf;
  if (o.momentum !== 0) {
    next = buf ? buf.map((b, i) => o.momentum * b + (1 - o.dampening) * (d[i] as number)) : [...d];
    const b = next;
    step = o.nesterov ? d.map((di, i) => di + o.momentum * (b[i] as number)) : b;
  }
  step.forEach((s, i) => {
    p[i] = (p[i] as number) - o.lr * s;
  });
  return next;
}

const CONFIGS: Required<SgdOptions>[] = [
  { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0.01, nesterov: false },
  { lr: 0.1, momentum: 0.9, dampening: 0.3, weightDecay: 0, nesterov: false },
  { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0.01, nesterov: true },
];

describe('Sgd', () => {
  for (const o of CONFIGS) {
    it(`follows torch.optim.SGD's loop step by step (${JSON.stringify(o)}), also for a parameter whose gradient comes later`, () => {
      const start = [
        [1, -2, 3],
        [0.5, 4],
      ];
      const scale = [
        [0.3, -1.1, 2],
        [-0.7, 1.9],
      ];
      const params = start.map((v) =>
        keep(tensor(Float64Array.from(v), [v.length]).setRequiresGrad(true)),
      );
      const coefficients = scale.map((v) => keep(tensor(Float64Array.from(v), [v.length])));
      const sgd = new Sgd(
        params.map((tensor, i) => ({ name: `p${i}`, tensor })),
        o,
      );
      const expected = start.map((v) => [...v]);
      const buffers: (number[] | undefined)[] = [undefined, undefined];
      for (let step = 0; step < 4; step++) {
        // The second parameter has no gradient in the first step: SGD leaves it, and starts its
        // momentum buffer one step later than the first's.
        const active = step === 0 ? [0] : [0, 1];
        sgd.zeroGrad();
        tidy(() => {
          const terms = active.map((i) => {
            const p = params[i] as Tensor;
            return ops.sum(ops.mul(ops.mul(p, p), coefficients[i] as Tensor));
          });
          terms.reduce((a, b) => ops.add(a, b)).backward();
        });
        for (const i of active) {
          const p = expected[i] as number[];
          // d/dp of c * p^2
          const g = p.map((pi, k) => 2 * (scale[i]?.[k] as number) * pi);
          buffers[i] = referenceStep(p, g, buffers[i], o);
        }
        sgd.step();
        params.forEach((p, i) => {
          const got = Array.from(p.data() as Float64Array);
          got.forEach((v, k) => {
            const want = expected[i]?.[k] as number;
            assert.ok(
              Math.abs(v - want) <= 1e-12 * Math.max(1, Math.abs(want)),
              `step ${step + 1}, p${i}[${k}]: ${v} against ${want}`,
            );
          });
        });
      }
      assert.equal(sgd.state().length, o.momentum === 0 ? 0 : 2);
      sgd.dispose();
      for (const t of [...params, ...coefficients]) t.dispose();
    });
  }
});
