import { UsageError } from '../errors.js';
import { linearFamily, type LinearOptions } from './linear.js';
import { skewNormalFamily, type Architecture, type FamilyOptions } from './skew-normal.js';

/**
 * The families featshift draws architectures from: the paper's skew-normal distribution of a
 * fixed feature count over the layers (docs/method.md §2), and the linear widths of the RegNet
 * design space (§8). Either may be held to the baseline's features, MACs or parameters, and one
 * study may draw from both.
 */
export type FamilyKind = 'skew-normal' | 'linear';
export const FAMILY_KINDS: readonly FamilyKind[] = ['skew-normal', 'linear'];

/** What a study draws from: one family, or both (the skew-normal members first). */
export type FamilyChoice = FamilyKind | 'both';
export const FAMILY_CHOICES: readonly FamilyChoice[] = [...FAMILY_KINDS, 'both'];

/** The families of a choice, in the order their members are listed. */
export const familiesOf = (choice: FamilyChoice): FamilyKind[] =>
  choice === 'both' ? [...FAMILY_KINDS] : [choice];

export interface MemberOptions extends FamilyOptions, LinearOptions {
  /** Which family (default skew-normal, the paper's), or both. */
  family?: FamilyChoice;
}

/** The members of the chosen family (or of both, the skew-normal first), held to the chosen cost. */
export function familyMembers(options: MemberOptions = {}): Architecture[] {
  return familiesOf(options.family ?? 'skew-normal').flatMap((kind) =>
    kind === 'linear' ? linearFamily(options) : skewNormalFamily(options),
  );
}

/**
 * What names a member within a study whatever families it draws from: ids are positions in one
 * family's grid, so a linear member's is qualified ('linear:3') while a skew-normal member's (and
 * the baseline's, 0) stays the bare number the paper's studies have always used.
 */
export type MemberKey = number | `linear:${number}`;

/** What a key is made from: a member, a record or a statistic (family absent: the paper's). */
export interface MemberRef {
  id: number;
  family?: string | null;
}

/** The key of a member, a record or a statistic: its id, qualified by a family other than the paper's. */
export const memberKey = (a: MemberRef): MemberKey =>
  a.family === 'linear' ? `linear:${a.id}` : a.id;

/** A member's family where it is not the paper's, for lines that name a member by its id. */
export const familyTag = (a: { family?: string | null }): { family?: 'linear' } =>
  a.family === 'linear' ? { family: 'linear' } : {};

/** The family and id a key names. */
export function keyParts(key: MemberKey): { family: FamilyKind; id: number } {
  return typeof key === 'number'
    ? { family: 'skew-normal', id: key }
    : { family: 'linear', id: Number(key.slice('linear:'.length)) };
}

/** Keys in listing order: the baseline and the skew-normal members, then the linear, each by id. */
export function compareMemberKeys(a: MemberKey, b: MemberKey): number {
  const p = keyParts(a);
  const q = keyParts(b);
  return FAMILY_KINDS.indexOf(p.family) - FAMILY_KINDS.indexOf(q.family) || p.id - q.id;
}

/** Members in listing order (compareMemberKeys of their keys). */
export const compareMembers = (a: MemberRef, b: MemberRef): number =>
  compareMemberKeys(memberKey(a), memberKey(b));

/** True for a linear member's key. */
export const isLinearKey = (key: MemberKey): boolean => keyParts(key).family === 'linear';

/**
 * Which families a listing holds: one, or both (the baseline, which has neither family's
 * parameters, counts for neither).
 */
export function familiesIn(
  list: readonly { family?: string | null; xi: number | null }[],
): FamilyChoice {
  const linear = list.some((a) => a.family === 'linear');
  const skewNormal = list.some((a) => a.xi !== null);
  return linear ? (skewNormal ? 'both' : 'linear') : 'skew-normal';
}

/** True for a value that is a member key (a whole number, or 'linear:' and one). */
export const isMemberKey = (x: unknown): x is MemberKey =>
  (Number.isInteger(x) && (x as number) >= 0) ||
  (typeof x === 'string' && /^linear:(0|[1-9]\d*)$/.test(x));

/** The largest id --ids accepts: far above any family's size, small enough to list. */
export const MAX_ID = 100_000;

/**
 * Parses --ids: ids and ranges ('1-10,17'), each optionally qualified by its family
 * ('linear:1-4', 'skew-normal:49'). A bare id names a member of the study's only family, or, in a
 * study of both, of the skew-normal family (the paper's); 0 is the baseline. Sorted, unique.
 */
export function parseMemberKeys(text: string, choice: FamilyChoice = 'skew-normal'): MemberKey[] {
  const keys = new Map<string, MemberKey>();
  const bare: FamilyKind = choice === 'linear' ? 'linear' : 'skew-normal';
  for (const part of text.split(',')) {
    const m = /^\s*(?:(skew-normal|linear):\s*)?(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m)
      throw new UsageError(
        `'${part}' is not an id or a range such as 1-10 (use --ids 1-10,17${choice === 'skew-normal' ? '' : ', linear:1-4'})`,
        'ids',
      );
    const family = (m[1] as FamilyKind | undefined) ?? bare;
    if (!familiesOf(choice).includes(family))
      throw new UsageError(
        `'${part.trim()}' names the ${family} family, which this study does not draw from (--family ${choice === 'both' ? 'both' : choice}); give --family both to train members of both`,
        'ids',
      );
    const from = Number(m[2]);
    const to = m[3] === undefined ? from : Number(m[3]);
    if (to < from) throw new UsageError(`the range '${part.trim()}' runs backwards`, 'ids');
    if (to > MAX_ID)
      throw new UsageError(
        `'${part.trim()}' goes past ${MAX_ID}: no family has that many members (VGG-16's has 193)`,
        'ids',
      );
    // The baseline belongs to no family: linear:0 and 0 both name it.
    for (let i = from; i <= to; i++) {
      const key = memberKey({ id: i, family: i === 0 ? null : family });
      keys.set(String(key), key);
    }
  }
  return [...keys.values()].sort(compareMemberKeys);
}

/** Sorted keys written back as ranges: [1, 2, 3, 7, 'linear:2', 'linear:3'] as '1-3, 7, linear:2-3'. */
export function formatMemberKeys(keys: readonly MemberKey[]): string {
  const parts: string[] = [];
  const sorted = [...keys].sort(compareMemberKeys);
  for (let i = 0; i < sorted.length; i++) {
    const start = keyParts(sorted[i] as MemberKey);
    let end = start;
    for (;;) {
      const next = sorted[i + 1];
      if (next === undefined) break;
      const n = keyParts(next);
      if (n.family !== start.family || n.id !== end.id + 1) break;
      end = n;
      i++;
    }
    const prefix = start.family === 'linear' ? 'linear:' : '';
    parts.push(start.id === end.id ? `${prefix}${start.id}` : `${prefix}${start.id}-${end.id}`);
  }
  return parts.join(', ');
}
