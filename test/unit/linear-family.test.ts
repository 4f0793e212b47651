import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { costOf, HOLDS, type Hold } from '../../src/family/hold.js';
import { linearFamily, linearWidths, roundHalfEven } from '../../src/family/linear.js';
import { familyMembers } from '../../src/family/members.js';
import { planOptions, skewNormalFamily, type Architecture } from '../../src/family/skew-normal.js';
import { vggBaseWidths } from '../../src/models/vgg-base.js';
import { readFixture } from '../helpers/paths.js';

interface Case {
  depth: number;
  multiplier: number;
  w0: [number, number, number];
  wa: [number, number, number];
  wm: [number, number, number] | null;
  q: number;
  lines: { w0: number; wa: number; wm: number | null; widths: number[] | null }[];
  members: { id: number; w0: number; wa: number; wm: number | null; widths: number[] }[];
}

/** scripts/reference/linear_fixture.py: the family from its formulas, in plain Python. */
const cases = readFixture<Case[]>('reference-linear.json');
const grid = ([min, max, step]: [number, number, number]): {
  min: number;
  max: number;
  step: number;
} => ({ min, max, step });

describe('the linear family against an independent reference (scripts/reference)', () => {
  it('rounds halves to even, as numpy.round in RegNet’s generator', () => {
    assert.deepEqual(
      [0.5, 1.5, 2.5, 3.5, -2.5, 1.4, 1.6].map(roundHalfEven),
      [0, 2, 2, 4, -2, 1, 2],
    );
  });

  for (const c of cases) {
    const label = `VGG-${c.depth} x${c.multiplier}, w0 ${c.w0.join(':')}, wa ${c.wa.join(':')}, wm ${c.wm?.join(':') ?? 'none'}, q ${c.q}`;
    it(`draws every line and its RegNet quantisation: ${label}`, () => {
      const layers = vggBaseWidths(c.depth).length;
      for (const l of c.lines)
        assert.deepEqual(linearWidths(layers, l.w0, l.wa, l.wm, c.q), l.widths, JSON.stringify(l));
    });
    it(`holds the features integer for integer: ${label}`, () => {
      const members = linearFamily({
        depth: c.depth,
        widthMultiplier: c.multiplier,
        w0: grid(c.w0),
        wa: grid(c.wa),
        wm: c.wm ? grid(c.wm) : null,
        q: c.q,
      });
      assert.deepEqual(
        members.map((a) => ({ id: a.id, w0: a.w0, wa: a.wa, wm: a.wm, widths: a.widths })),
        c.members,
      );
      assert.ok(members.every((a) => a.family === 'linear' && a.hold === 'features'));
    });
  }
});

describe('members held to the baseline’s MACs or parameters', () => {
  const options = { depth: 16, widthMultiplier: 0.125 };
  const byHold = new Map<Hold, Architecture[]>(
    HOLDS.map((hold) => [hold, linearFamily({ ...options, hold })]),
  );

  it('every linear member within 1 % of the baseline’s figure, recomputed from its widths', () => {
    for (const hold of HOLDS) {
      const list = byHold.get(hold) ?? [];
      assert.ok(list.length >= 15, `${hold}: ${list.length} members`);
      for (const a of list) {
        const cost = costOf(a.widths, hold, planOptions(options));
        assert.equal(a.hold, hold);
        assert.ok(Math.abs(a.deviation ?? NaN) <= (hold === 'features' ? 0 : 0.01), `${a.id}`);
        assert.ok(Math.abs(cost / (a.target ?? NaN) - 1 - (a.deviation ?? NaN)) < 1e-12);
        assert.ok(Math.min(...a.widths) >= 2);
      }
    }
  });

  it('keeps each member’s id and parameters under every hold, and spans falling to rising widths', () => {
    const features = new Map((byHold.get('features') ?? []).map((a) => [a.id, a]));
    for (const hold of ['macs', 'params'] as const)
      for (const a of byHold.get(hold) ?? []) {
        const same = features.get(a.id);
        assert.ok(same, `id ${a.id} under ${hold}`);
        assert.deepEqual([a.w0, a.wa, a.wm], [same.w0, same.wa, same.wm]);
      }
    const macs = byHold.get('macs') ?? [];
    const first = macs[0]?.widths ?? [];
    const last = macs[macs.length - 1]?.widths ?? [];
    assert.ok((first[0] ?? 0) > (first[first.length - 1] ?? 0), 'the first member falls');
    assert.ok((last[0] ?? 0) < (last[last.length - 1] ?? 0), 'the last member rises');
    // Held to MACs, a falling member has far fewer features than a rising one.
    assert.ok((macs[0]?.totalFeatures ?? 0) * 2 < (macs[macs.length - 1]?.totalFeatures ?? 0));
  });

  it('holds the skew-normal family too, each member keeping its id and shape', () => {
    const paper = new Map(skewNormalFamily(options).map((a) => [a.id, a]));
    for (const hold of ['macs', 'params'] as const) {
      const held = familyMembers({ ...options, hold });
      assert.ok(held.length > 0.9 * paper.size, `${hold}: ${held.length} of ${paper.size}`);
      for (const a of held) {
        const same = paper.get(a.id);
        assert.ok(same);
        assert.deepEqual([a.xi, a.omega, a.alpha], [same.xi, same.omega, same.alpha]);
        assert.ok(Math.abs(a.deviation ?? NaN) <= 0.01);
      }
    }
    // The paper's hold is the reference's family, unchanged and unmarked.
    assert.deepEqual(familyMembers(options), [...paper.values()]);
  });
});
