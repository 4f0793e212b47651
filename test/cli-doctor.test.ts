import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli } from './helpers/cli.js';

describe('featshift doctor', () => {
  it('reports the engine and passes its self-test', () => {
    const r = runCli(['doctor', '--threads', '1']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^featshift doctor: ok/);
    assert.match(r.stdout, /libtorch\s+\d+\.\d+/);
    assert.match(r.stdout, /threads\s+1 of \d+ cores/);
    assert.match(r.stdout, /devices\s+cpu/);
    assert.match(r.stdout, /memory\s+cpu: .* tensors from featshift's block cache/);
    // The setup installs libjpeg: image folders' JPEGs go through the library Pillow uses.
    assert.match(r.stdout, /JPEG\s+libjpeg-turbo \d/);
    assert.match(r.stdout, /self-test\s+conv2d forward and backward: ok/);
  });
});
