import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  liveTensorCount,
  manualSeed,
  noGrad,
  ops,
  releaseHostMemory,
  tensor,
  tidy,
  zeros,
} from '../../src/engine/index.js';
import { fans, initWeight, INIT_SCHEMES } from '../../src/models/init.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/models/checkpoint.js';
import { Vgg } from '../../src/models/vgg.js';
import { skewNormalFamily } from '../../src/family/skew-normal.js';
import { CheckpointError } from '../../src/models/errors.js';
import { Sgd } from '../../src/train/sgd.js';

const TINY = [4, 4, 6, 6, 8, 8, 8, 10, 10];

function stats(values: ArrayLike<number>): { mean: number; std: number; max: number } {
  let s = 0;
  let s2 = 0;
  let max = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    s += v;
    s2 += v * v;
    max = Math.max(max, Math.abs(v));
  }
  const mean = s / values.length;
  return { mean, std: Math.sqrt(s2 / values.length - mean * mean), max };
}

describe('VGG model', () => {
  it('counts the same parameters as featshift family', () => {
    const first = skewNormalFamily({ widthMultiplier: 0.05 })[0];
    assert.ok(first);
    const m = new Vgg(first.widths);
    assert.equal(m.parameterCount, first.params);
    const counted = m.parameters().reduce((n, p) => n + p.tensor.size, 0);
    assert.equal(counted, first.params);
    m.dispose();
  });

  it('maps a batch of images to logits, in train and eval mode, channels-last too', () => {
    for (const channelsLast of [false, true]) {
      const m = new Vgg(TINY, {
        classes: 5,
        memoryFormat: channelsLast ? 'channels-last' : 'nchw',
      });
      const logits = tidy(() => m.forward(zeros([3, 3, 32, 32]).normal_(0, 1), true));
      assert.deepEqual(logits.shape, [3, 5]);
      const evalLogits = noGrad(() => m.forward(zeros([2, 3, 32, 32]), false));
      assert.deepEqual(evalLogits.shape, [2, 5]);
      assert.equal(evalLogits.requiresGrad, false);
      m.dispose();
    }
  });

  it('refuses zero widths and wrong input shapes with a clear error', () => {
    assert.throws(() => new Vgg([4, 0, 6, 6, 8, 8, 8, 10, 10]), /positive integer/);
    const m = new Vgg(TINY);
    assert.throws(
      () => m.forward(zeros([2, 1, 32, 32]), true),
      /expected input\[2, 1, 32, 32\] to have 3 channels/,
    );
    m.dispose();
    assert.throws(() => m.forward(zeros([2, 3, 32, 32]), true), /disposed/);
  });

  it('initialises weights with the scheme’s scale, batch norm to 1 and 0', () => {
    manualSeed(1);
    const w = zeros([256, 128, 3, 3]);
    const { fanIn, fanOut } = fans(w.shape);
    assert.equal(fanIn, 128 * 9);
    assert.equal(fanOut, 256 * 9);
    const expectedStd: Record<string, number> = {
      'kaiming-normal': Math.sqrt(2 / fanIn),
      'kaiming-uniform': Math.sqrt(2 / fanIn),
      'xavier-normal': Math.sqrt(2 / (fanIn + fanOut)),
      'xavier-uniform': Math.sqrt(2 / (fanIn + fanOut)),
    };
    for (const scheme of INIT_SCHEMES) {
      initWeight(w, scheme);
      const s = stats(w.toFloat32());
      assert.ok(Math.abs(s.mean) < 0.002, `${scheme} mean ${s.mean}`);
      assert.ok(
        Math.abs(s.std / (expectedStd[scheme] as number) - 1) < 0.01,
        `${scheme} std ${s.std}`,
      );
      if (scheme.endsWith('uniform'))
        assert.ok(s.max <= Math.sqrt(3) * (expectedStd[scheme] as number) + 1e-6);
    }
    const m = new Vgg(TINY);
    const bn = m.parameters().find((p) => p.name === 'features.block1.bn1.weight');
    assert.deepEqual(Array.from(bn?.tensor.toFloat32() ?? []), [1, 1, 1, 1]);
    m.dispose();
  });

  it('applies dropout 0.5 only in training mode', () => {
    manualSeed(3);
    const x = zeros([1, 10000]).fill_(1);
    const train = stats(ops.dropout(x, 0.5, true).toFloat32());
    assert.ok(Math.abs(train.mean - 1) < 0.05 && train.max === 2);
    assert.equal(stats(ops.dropout(x, 0.5, false).toFloat32()).mean, 1);
  });

  it('saves and loads model and optimiser state as safetensors, exactly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'featshift-ckpt-'));
    manualSeed(5);
    const a = new Vgg(TINY);
    const sgd = new Sgd(a.parameters(), { lr: 0.1, momentum: 0.9 });
    const x = zeros([2, 3, 32, 32]).normal_(0, 1);
    const y = tensor(new BigInt64Array([0n, 1n]), [2]);
    tidy(() => {
      ops.crossEntropy(a.forward(x, true), y).backward();
    });
    sgd.step();
    const file = join(dir, 'ckpt.safetensors');
    await saveCheckpoint(file, [...a.state(), ...sgd.state()], { epoch: '3' });
    const loaded = await loadCheckpoint(file);
    assert.equal(loaded.metadata.epoch, '3');
    const b = new Vgg(TINY);
    b.loadState(new Map([...loaded.tensors].filter(([k]) => !k.startsWith('momentum_buffer.'))));
    for (const [sa, sb] of a.state().map((s, i) => [s, b.state()[i]] as const)) {
      assert.deepEqual(sb?.tensor.data(), sa.tensor.data(), sa.name);
    }
    const sgdB = new Sgd(b.parameters(), { lr: 0.1, momentum: 0.9 });
    sgdB.loadState(new Map([...loaded.tensors].filter(([k]) => k.startsWith('momentum_buffer.'))));
    assert.equal(sgdB.state().length, a.parameters().length);
    writeFileSync(join(dir, 'bad.safetensors'), Buffer.from([1, 2, 3]));
    await assert.rejects(
      loadCheckpoint(join(dir, 'bad.safetensors')),
      (e: unknown) =>
        e instanceof CheckpointError &&
        e.path === join(dir, 'bad.safetensors') &&
        /not a valid checkpoint: shorter/.test(e.message),
    );
    assert.throws(() => {
      b.loadState(new Map([['features.block1.conv1.weight', zeros([1])]]));
    }, /has shape \[1\], the model needs \[4, 3, 3, 3\]/);
    a.dispose();
    b.dispose();
  });

  it('keeps the number of live tensors flat over many training steps', () => {
    manualSeed(9);
    const m = new Vgg(TINY);
    const sgd = new Sgd(m.parameters(), {
      lr: 0.01,
      momentum: 0.9,
      weightDecay: 5e-4,
      nesterov: true,
    });
    const x = zeros([8, 3, 32, 32]).normal_(0, 1);
    const y = tensor(
      BigInt64Array.from({ length: 8 }, (_, i) => BigInt(i % 10)),
      [8],
    );
    const step = (): void => {
      sgd.zeroGrad();
      tidy(() => {
        ops.crossEntropy(m.forward(x, true), y).backward();
      });
      sgd.step();
      noGrad(() => tidy(() => ops.topkCorrect(m.forward(x, false), y, 1)));
      releaseHostMemory();
    };
    step();
    step();
    const after = liveTensorCount();
    for (let i = 0; i < 30; i++) step();
    assert.equal(liveTensorCount(), after);
    sgd.dispose();
    m.dispose();
    x.dispose();
    y.dispose();
    assert.equal(liveTensorCount(), after - m.state().length - m.parameters().length - 2);
  });
});
