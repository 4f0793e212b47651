import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { runCli } from './helpers/cli.js';
import { tinyRecord, tinyRunFolder } from './helpers/results.js';

/**
 * Planning a design from a pilot (issue: answers on equal terms, item 5): the variances a pilot
 * shows, the difference each design would detect, the choice within a budget, and `featshift plan`
 * as a user runs it.
 */

describe('featshift plan', () => {
  // The tiny family (VGG-10): early xi < 3, middle 3 to 6, late above 6.
  const members = { early: [15, 16, 17], middle: [36, 37], late: [39, 40, 41] };
  const ids = Object.values(members).flat();
  const means = [40, 50, 60, 55, 57, 70, 72, 71];
  const lines = ids.flatMap((id, i) =>
    [0, 1].map((seed) =>
      JSON.stringify(tinyRecord(id, seed, (means[i] as number) + (seed === 0 ? -1 : 1), 3)),
    ),
  );

  it('prints the pilot’s variances, each design’s detectable differences and time, and the best within the budget', () => {
    const dir = tinyRunFolder(lines, {}, ids);
    const r = runCli(['plan', dir, '--design', '2x2,3x1', '--design', '3x2', '--budget', '1']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /between seeds of one member 2\.0 \(pooled, 8 degrees of freedom\)/);
    assert.match(r.stdout, /early 99\.0 \(3 architectures\), middle 1\.0 \(2 architectures\)/);
    assert.match(r.stdout, /^ +2x2 +12 +1m12s +[\d.]+\* /m);
    // No baseline in this pilot: early - late alone decides; 3x1 (9 runs of 6 s) fits a minute,
    // 3x2 does not.
    assert.match(r.stdout, /Best design within 1m00s: 3x1/);
    const json = runCli(['plan', dir, '-f', 'json']);
    assert.equal(json.status, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as { designs: unknown[]; best: { design: unknown } };
    assert.equal(parsed.designs.length, 15);
    assert.ok(parsed.best);
  });

  it('refuses a halving pilot and a one-seed pilot in one line with exit code 2', () => {
    const halving = tinyRunFolder(
      lines,
      { halving: true, epochs: 7, lrWrEpochs: 1, lrWrMul: 2 },
      ids,
    );
    const h = runCli(['plan', halving]);
    assert.equal(h.status, 2, h.stderr);
    assert.match(h.stderr, /without --halving/);
    const single = tinyRunFolder(
      lines.filter((l) => (JSON.parse(l) as { seed: number }).seed === 0),
      { seeds: [0] },
      ids,
    );
    const s = runCli(['plan', single]);
    assert.equal(s.status, 2, s.stderr);
    assert.match(s.stderr, /--seeds 2 or more/);
    assert.equal(s.stderr.trim().split('\n').length, 1);
    const bad = runCli(['plan', single, '--design', '3by2']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /expected designs such as 3x2/);
  });
});
