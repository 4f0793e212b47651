import { linearFamily, type LinearOptions } from './linear.js';
import { skewNormalFamily, type Architecture, type FamilyOptions } from './skew-normal.js';

/**
 * The families featshift draws architectures from: the paper's skew-normal distribution of a
 * fixed feature count over the layers (docs/method.md §2), and the linear widths of the RegNet
 * design space (§8). Either may be held to the baseline's features, MACs or parameters.
 */
export type FamilyKind = 'skew-normal' | 'linear';
export const FAMILY_KINDS: readonly FamilyKind[] = ['skew-normal', 'linear'];

export interface MemberOptions extends FamilyOptions, LinearOptions {
  /** Which family (default skew-normal, the paper's). */
  family?: FamilyKind;
}

/** The members of the chosen family, held to the chosen cost. */
export function familyMembers(options: MemberOptions = {}): Architecture[] {
  return options.family === 'linear' ? linearFamily(options) : skewNormalFamily(options);
}
