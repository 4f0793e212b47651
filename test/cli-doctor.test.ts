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
    // The setup installs libtcmalloc-minimal4: tensors live in its page heap (docs/engine.md).
    assert.match(r.stdout, /memory\s+cpu: .* tensors from tcmalloc's page heap/);
    // The setup installs libjpeg: image folders' JPEGs go through the library Pillow uses.
    assert.match(r.stdout, /JPEG\s+libjpeg-turbo \d/);
    assert.match(r.stdout, /self-test\s+conv2d forward and backward: ok/);
  });

  it('says where tensors live when the block cache holds them', () => {
    const r = runCli(['doctor', '--threads', '1'], {
      env: { FEATSHIFT_HOST_ALLOCATOR: 'block-cache' },
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /tensors from featshift's block cache \(install libtcmalloc-minimal4 for less memory\)/,
    );
  });

  it('names the allocators when FEATSHIFT_HOST_ALLOCATOR names none', () => {
    const r = runCli(['doctor'], { env: { FEATSHIFT_HOST_ALLOCATOR: 'jemalloc' } });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.equal(
      r.stderr,
      'featshift: error: FEATSHIFT_HOST_ALLOCATOR=jemalloc is not an allocator: use auto, tcmalloc, block-cache or libtorch, or leave it unset\n',
    );
  });
});
