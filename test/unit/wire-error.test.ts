import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataError } from '../../src/data/errors.js';
import { EngineError, OutOfMemoryError } from '../../src/engine/errors.js';
import { UsageError } from '../../src/errors.js';
import { ArchitectureError, CheckpointError } from '../../src/models/errors.js';
import {
  fromQueueReason,
  fromWire,
  queueReasonText,
  toQueueError,
  toWire,
} from '../../src/sweep/parallel/wire-error.js';

/**
 * Errors keep their class from a training process to the sweep (the process pool's messages are
 * structured clones, which keep no class): each class the command line tells apart, one by one.
 */
const crossings: [string, (error: unknown) => Error][] = [
  ['the process pool', (error) => fromWire(structuredClone(toWire(error)))],
  // A queue keeps only a job's failedReason, a string.
  ['a queue', (error) => fromQueueReason(toQueueError(error).message)],
];

for (const [where, across] of crossings)
  describe(`errors across ${where}`, () => {
    it('a UsageError comes back as one, with its option', () => {
      const e = across(new UsageError('--depth 11 is not 3k + 7', 'depth'));
      assert.ok(e instanceof UsageError);
      assert.equal(e.option, 'depth');
      assert.equal(e.message, '--depth 11 is not 3k + 7');
    });

    it('a DataError comes back as one, naming its file once, unreachable or not', () => {
      const damaged = across(new DataError('is not an IDX file', '/data/train-images.gz'));
      assert.ok(damaged instanceof DataError);
      assert.equal(damaged.message, '/data/train-images.gz: is not an IDX file');
      assert.equal(damaged.file, '/data/train-images.gz');
      assert.equal(damaged.unreachable, false);
      const offline = across(
        new DataError('could not be downloaded', 'x.gz', { unreachable: true }),
      );
      assert.ok(offline instanceof DataError);
      assert.equal(offline.unreachable, true);
    });

    it('an OutOfMemoryError stays an OutOfMemoryError (an EngineError too), another EngineError an EngineError', () => {
      const oom = across(new OutOfMemoryError('CUDA out of memory'));
      assert.ok(oom instanceof OutOfMemoryError);
      assert.ok(oom instanceof EngineError);
      const engine = across(new EngineError('shape mismatch'));
      assert.ok(engine instanceof EngineError);
      assert.ok(!(engine instanceof OutOfMemoryError));
    });

    it('an ArchitectureError and a CheckpointError come back as themselves, with their field and path', () => {
      const widths = across(
        new ArchitectureError('every width must be a positive integer', 'patchSize'),
      );
      assert.ok(widths instanceof ArchitectureError);
      assert.equal(widths.field, 'patchSize');
      const ckpt = across(
        new CheckpointError(
          '/r/checkpoints/arch_1.safetensors is not a valid checkpoint',
          '/r/checkpoints/arch_1.safetensors',
        ),
      );
      assert.ok(ckpt instanceof CheckpointError);
      assert.equal(ckpt.path, '/r/checkpoints/arch_1.safetensors');
    });

    it('any other error keeps its name and message (and its stack in the pool)', () => {
      const original = new RangeError('a seed must be a non-negative integer');
      const e = across(original);
      assert.equal(e.name, 'RangeError');
      assert.equal(e.message, original.message);
      // A queue keeps the stack apart, in the job's stacktrace.
      if (where === 'the process pool') assert.equal(e.stack, original.stack);
      assert.equal(across('thrown text').message, 'thrown text');
    });
  });

describe("a queue job's failure as people read it", () => {
  it('names the class, and leaves text thrown by anything else as it is', () => {
    const reason = toQueueError(new DataError('is not an IDX file', '/d/x.gz')).message;
    assert.equal(queueReasonText(reason), 'DataError: /d/x.gz: is not an IDX file');
    assert.equal(
      queueReasonText('job stalled more than allowable limit'),
      'job stalled more than allowable limit',
    );
  });
});
