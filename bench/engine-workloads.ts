import { vggBaseWidths } from '../src/models/vgg-base.js';

/** The engine benchmark's workloads (issue: VGG-16 / 8, VGG-16, the most early-heavy member / 4). */
export interface EngineWorkload {
  name: string;
  widths: number[];
  batch: number;
}

const SPEC_SAMPLE_1 = [823, 961, 852, 708, 552, 405, 279, 181, 110, 63, 34, 17, 9, 4, 2];

export const ENGINE_WORKLOADS: readonly EngineWorkload[] = [
  { name: 'vgg16/8', widths: vggBaseWidths(16).map((w) => w / 8), batch: 128 },
  { name: 'vgg16', widths: vggBaseWidths(16), batch: 128 },
  {
    name: 'member1/4',
    widths: SPEC_SAMPLE_1.map((w) => Math.max(1, Math.round(w / 4))),
    batch: 128,
  },
];
