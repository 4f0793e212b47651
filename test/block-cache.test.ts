/**
 * featshift's block cache (native/cpu-block-cache.cc): the CPU tensors' allocator where the system
 * has no tcmalloc, and where tcmalloc holds the small ones, the pool of the large ones (1 MiB and
 * more, in whole 2 MiB huge pages where the kernel allows them). This file loads the addon with it
 * alone (FEATSHIFT_HOST_ALLOCATOR=block-cache; the addon reads it when it loads, on the first
 * engine call). Sizes here are multiples of 2 MiB, or below 1 MiB, so that the counts do not depend
 * on whether the machine allows huge pages.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

process.env.FEATSHIFT_HOST_ALLOCATOR = 'block-cache';
const { hostMemory, releaseHostMemory, zeros } = await import('../src/engine/index.js');

const MiB = 2 ** 20;
const residentMiB = (): number =>
  (Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096) / MiB;
/** A float32 tensor of `mib` MiB, every element `value`. */
const filled = (mib: number, value: number) => zeros([(mib * MiB) / 4]).add_(value);
/** Whether every element of `t` is still `value`. */
const holds = (t: ReturnType<typeof filled>, value: number): boolean =>
  (t.data() as Float32Array).every((x) => x === value);

describe('the block cache', () => {
  it('is the allocator this file asked for', () => {
    assert.equal(hostMemory().allocator, 'block-cache');
  });

  it('keeps a freed block for the next tensor of its size, and hands it back on release', () => {
    for (const mib of [2, 0.5]) {
      releaseHostMemory(0);
      const start = hostMemory();
      assert.equal(start.cachedBytes, 0);
      const a = zeros([(mib * MiB) / 4]);
      assert.equal(hostMemory().inUseBytes - start.inUseBytes, mib * MiB);
      a.dispose();
      assert.equal(hostMemory().cachedBytes, mib * MiB);
      assert.equal(hostMemory().inUseBytes, start.inUseBytes);
      const mapped = hostMemory().mappedBytes;
      const b = zeros([(mib * MiB) / 4]);
      assert.equal(hostMemory().cachedBytes, 0, `${mib} MiB again takes the kept block`);
      assert.equal(hostMemory().mappedBytes, mapped, 'and maps nothing new');
      b.dispose();
      assert.ok(releaseHostMemory(0) >= mib * MiB, 'the kept block counts as held');
      assert.equal(hostMemory().cachedBytes, 0);
    }
  });

  it('cuts a smaller request from a kept block and keeps the rest', () => {
    releaseHostMemory(0);
    const start = hostMemory();
    zeros([16 * MiB]).dispose(); // 64 MiB in use at most, then kept
    const smaller = zeros([12 * MiB]); // 48 MiB
    const now = hostMemory();
    assert.equal(now.inUseBytes - start.inUseBytes, 48 * MiB);
    assert.equal(now.cachedBytes, 16 * MiB);
    assert.equal(now.mappedBytes, start.mappedBytes + 64 * MiB, 'nothing mapped after the first');
    smaller.dispose();
    releaseHostMemory(0);
  });

  it("moves kept blocks' pages into a request that no kept block holds, without mapping more", () => {
    // The backward pass frees a layer's gradient and asks for the one of the layer before, larger
    // wherever a pooling layer or a wider layer comes before.
    releaseHostMemory(0);
    const start = hostMemory();
    const first = filled(16, 1);
    const between = filled(2, 2); // keeps the two 16 MiB blocks apart
    const second = filled(16, 3);
    first.dispose();
    second.dispose();
    const before = residentMiB();
    const larger = filled(32, 4);
    const grown = residentMiB() - before;
    const now = hostMemory();
    assert.equal(now.cachedBytes, 0);
    assert.equal(now.movedBytes - start.movedBytes, 32 * MiB, 'both kept blocks moved');
    assert.equal(now.mappedBytes - start.mappedBytes, 34 * MiB, 'nothing mapped for the larger');
    assert.equal(now.peakInUseBytes - start.inUseBytes, 34 * MiB);
    assert.ok(grown < 8, `resident memory grew by ${grown.toFixed(0)} MiB`);
    assert.ok(holds(larger, 4));
    assert.ok(holds(between, 2), 'the block in use is untouched');
    larger.dispose();
    between.dispose();
    releaseHostMemory(0);
  });

  // Each pool moves pages between its own blocks only, so the bound holds in each: the sizes here
  // are in one pool at a time.
  const pools = [
    { name: 'below 1 MiB', mib: (r: number) => (1 + Math.floor(r * 120)) / 128 },
    { name: 'from 1 MiB on, in huge pages', mib: (r: number) => 2 * (1 + Math.floor(r * 5)) },
  ];
  for (const pool of pools) {
    it(`never holds more than the most that tensors held at once, and never moves a block in use (${pool.name})`, () => {
      // A pseudo-random sequence, the same on every machine, some tensors held for a while.
      releaseHostMemory(0);
      const start = hostMemory();
      let seed = 12345;
      const random = (): number => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      const live: { t: ReturnType<typeof filled>; value: number; mib: number }[] = [];
      for (let i = 0; i < 300; i++) {
        if (live.length > 0 && (live.length > 12 || random() < 0.45)) {
          const [gone] = live.splice(Math.floor(random() * live.length), 1);
          gone?.t.dispose();
        } else {
          const mib = pool.mib(random());
          live.push({ t: filled(mib, i), value: i, mib });
        }
        const now = hostMemory();
        assert.ok(
          now.cachedBytes + now.inUseBytes <= now.peakInUseBytes,
          `step ${i}: ${(now.cachedBytes + now.inUseBytes) / MiB} MiB held, peak ${now.peakInUseBytes / MiB} MiB`,
        );
      }
      assert.ok(hostMemory().movedBytes > start.movedBytes, 'the sequence moved pages');
      for (const { t, value, mib } of live) {
        assert.ok(holds(t, value), `a tensor of ${mib} MiB in use kept its values`);
        t.dispose();
      }
      releaseHostMemory(0);
    });
  }

  it('after one cycle of growing sizes, serves the next cycles without mapping more', () => {
    releaseHostMemory(0);
    const cycle = (): void => {
      for (const mib of [2, 4, 8, 16]) zeros([(mib * MiB) / 4]).dispose();
    };
    cycle();
    const mapped = hostMemory().mappedBytes;
    cycle();
    cycle();
    assert.equal(hostMemory().mappedBytes, mapped);
    assert.ok(hostMemory().cachedBytes <= 16 * MiB);
    releaseHostMemory(0);
    assert.equal(hostMemory().cachedBytes, 0);
  });
});
