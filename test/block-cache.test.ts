/**
 * featshift's block cache (native/cpu-block-cache.cc), the CPU tensors' allocator where the system
 * has no tcmalloc: this file loads the addon with it (FEATSHIFT_HOST_ALLOCATOR=block-cache; the
 * addon reads it when it loads, on the first engine call).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

process.env.FEATSHIFT_HOST_ALLOCATOR = 'block-cache';
const { hostMemory, releaseHostMemory, zeros } = await import('../src/engine/index.js');

describe('the block cache', () => {
  const MiB = 2 ** 20;

  it('is the allocator this file asked for', () => {
    assert.equal(hostMemory().allocator, 'block-cache');
  });

  it('keeps a freed block for the next tensor of its size, and hands it back on release', () => {
    releaseHostMemory(0);
    const start = hostMemory();
    assert.equal(start.cachedBytes, 0);
    const a = zeros([MiB / 4]); // 1 MiB of float32
    assert.equal(hostMemory().inUseBytes - start.inUseBytes, MiB);
    a.dispose();
    assert.equal(hostMemory().cachedBytes, MiB);
    assert.equal(hostMemory().inUseBytes, start.inUseBytes);
    const b = zeros([MiB / 4]);
    assert.equal(hostMemory().cachedBytes, 0, 'the same size takes the cached block');
    b.dispose();
    assert.ok(releaseHostMemory(0) >= MiB, 'the cached block counts as held');
    assert.equal(hostMemory().cachedBytes, 0);
  });

  it('serves a request from a block up to half as large again, within its bound', () => {
    releaseHostMemory(0);
    const start = hostMemory();
    zeros([16 * MiB]).dispose(); // 64 MiB in use at most, then kept
    // 48 MiB takes the kept 64 MiB block.
    const smaller = zeros([12 * MiB]);
    assert.equal(hostMemory().cachedBytes, 0);
    assert.equal(hostMemory().inUseBytes - start.inUseBytes, 64 * MiB);
    smaller.dispose();
    // 40 MiB cannot (64 is more than half as large again), and 40 + 64 kept would pass the bound,
    // half as much again as the most in use: the kept block is handed back first.
    const other = zeros([10 * MiB]);
    const now = hostMemory();
    assert.equal(now.cachedBytes, 0);
    assert.ok(now.cachedBytes + now.inUseBytes <= 1.5 * now.peakInUseBytes);
    assert.equal(now.peakInUseBytes - start.inUseBytes, 64 * MiB);
    other.dispose();
    releaseHostMemory(0);
  });

  it('learns a cycle of more sizes than its bound holds, instead of mapping them every time', () => {
    // Each size more than half as large again as the one before, so that none serves another;
    // one block in use at a time: the bound (1.5 x 16 MiB) holds fewer than the cycle's 31 MiB.
    // Freed longest ago first, each block was unmapped just before its next request, in every
    // cycle (a member at 1/8 in NCHW: 37 MB mapped again each step, trained 2x slower).
    releaseHostMemory(0);
    const sizes = [1, 2, 4, 8, 16];
    const cycle = (): number[] =>
      sizes.map((mib) => {
        const before = hostMemory().cachedBytes;
        const t = zeros([(mib * MiB) / 4]);
        const taken = before - hostMemory().cachedBytes;
        t.dispose();
        return taken / MiB;
      });
    cycle();
    cycle();
    assert.deepEqual(cycle(), sizes, 'every size of the third cycle comes from the cache');
    const now = hostMemory();
    assert.ok(now.cachedBytes <= 32 * MiB, `${now.cachedBytes / MiB} MiB kept for a 31 MiB cycle`);
    releaseHostMemory(0);
    // Emptied, the cache forgets what it learnt: the bound is half as much again as the peak.
    cycle();
    assert.ok(hostMemory().cachedBytes <= 1.5 * hostMemory().peakInUseBytes);
    releaseHostMemory(0);
  });
});
