import { UsageError } from '../errors.js';
import {
  familyMembers,
  formatMemberKeys,
  memberKey,
  parseMemberKeys,
  type MemberOptions,
} from '../family/members.js';
import { defaultXiGrid, baselineArchitecture, type Architecture } from '../family/skew-normal.js';
import {
  ADDED_LATER,
  REFERENCE_DEFAULTS,
  RENAMED,
  STUDY_KEYS,
  studyFlag,
  studyOption,
  type StudyConfig,
  type StudyKey,
} from './study-options.js';

export {
  REFERENCE_DEFAULTS,
  STUDY_KEYS,
  STUDY_OPTIONS,
  studyFlag,
  type StudyConfig,
  type StudyKey,
} from './study-options.js';

/**
 * The embedded default, `featshift sweep` with no study option: does the paper's answer hold on
 * Fashion-MNIST (offline, from Debian's package) in under ten minutes on two cores? The VGG-16
 * family at 1/8 of its features, three members at each location (early, middle, late: see
 * locationSample) beside the baseline, two seeds each, 3 epochs (one warm-restart cycle) in
 * mini-batches of 32 on the first 4000 training and 2000 test images. The design was chosen by the
 * difference it detects (`featshift plan` on pilots, README "What the default answers"): within a
 * location, architectures differ far more than seeds do, so a third architecture per location
 * buys more than a third seed, and at this cost batches of 32 (four times the steps of the
 * reference's 128) halve the spread between architectures that short training leaves.
 */
export function embeddedDefaultStudy(): StudyConfig {
  const study: StudyConfig = {
    ...REFERENCE_DEFAULTS,
    dataset: 'FashionMNIST',
    widthMultiplier: 0.125,
    includeBaseline: true,
    epochs: 3,
    lrWrEpochs: 3,
    batchSize: 32,
    trainSubset: 4000,
    valSubset: 2000,
    seeds: [0, 1],
  };
  const family = familyMembers(familyOptions(study, 10, 1));
  return {
    ...study,
    ids: locationSample(family, study.depth - 1, study.minFeatures, EMBEDDED_PER_LOCATION).join(
      ',',
    ),
  };
}

/** Architectures per location in the embedded default (its design: README, "What the default answers"). */
export const EMBEDDED_PER_LOCATION = 3;

/**
 * `perThird` members for each third of the layers (early, middle, late), chosen to keep the
 * family's shape at a small width: at the two locations xi nearest the third's centre, the members
 * with no layer at the minimum width (a scaled-down family squeezes its extremes onto that floor
 * where the full-width family does not), broadest first (largest omega, then the least skew),
 * taken from the two locations in turn, starting with the one farther from the network's middle.
 * So the sample is symmetric about the middle, early and late compared at matched distances, and
 * two per third are the broadest member at each of the two locations.
 */
export function locationSample(
  family: readonly Architecture[],
  layers: number,
  minFeatures: number,
  perThird: number,
): number[] {
  const eligible = family.filter((a) => a.xi !== null && Math.min(...a.widths) > minFeatures);
  const xis = [...new Set(eligible.map((a) => a.xi as number))];
  const middle = layers / 2;
  const picks: number[] = [];
  for (const centre of [layers / 6, middle, (5 * layers) / 6]) {
    const nearest = [...xis]
      .sort((a, b) => Math.abs(a - centre) - Math.abs(b - centre) || a - b)
      .slice(0, 2)
      .sort((a, b) => Math.abs(b - middle) - Math.abs(a - middle) || a - b);
    const queues = nearest.map((xi) =>
      eligible
        .filter((a) => a.xi === xi)
        .sort(
          (a, b) =>
            (b.omega ?? 0) - (a.omega ?? 0) ||
            Math.abs(a.alpha ?? 0) - Math.abs(b.alpha ?? 0) ||
            a.id - b.id,
        ),
    );
    const taken: number[] = [];
    for (let i = 0; taken.length < perThird && queues.some((q) => q.length > i); i++)
      for (const q of queues) {
        const a = q[i];
        if (a && taken.length < perThird) taken.push(a.id);
      }
    picks.push(...taken.sort((a, b) => a - b));
  }
  return picks;
}

/** The seeds a study trains every architecture with, in order. */
export function studySeeds(study: Pick<StudyConfig, 'seed' | 'seeds'>): number[] {
  return study.seeds ?? [study.seed];
}

/** The most seeds one study takes: far more than any interval needs, few enough to list. */
export const MAX_SEEDS = 1000;

/**
 * --seeds as given: a count N (seeds --seed, --seed + 1, ..., --seed + N - 1) or a list such as
 * 3,7,11. A single number is a count; one given seed is --seed.
 */
export function resolveSeeds(text: string, base: number): number[] {
  const fail = (why: string): never => {
    throw new UsageError(
      `--seeds ${why}: give a count such as 3 (seeds ${base}, ${base + 1}, ${base + 2}) or a list such as 3,7,11`,
      'seeds',
    );
  };
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const count = Number(trimmed);
    if (count < 1 || count > MAX_SEEDS) fail(`takes 1 to ${MAX_SEEDS} seeds, got ${count}`);
    return Array.from({ length: count }, (_, i) => base + i);
  }
  const parts = trimmed.split(',');
  if (!parts.every((p) => /^\s*\d+\s*$/.test(p))) fail(`'${text}' is neither a count nor a list`);
  const seeds = parts.map(Number);
  if (new Set(seeds).size !== seeds.length) fail(`'${text}' names a seed twice`);
  return seeds;
}

/** The keys whose values differ between a stored study and a requested one. */
export function changedKeys(stored: StudyConfig, requested: Partial<StudyConfig>): string[] {
  return (Object.keys(requested) as (keyof StudyConfig)[]).filter(
    (k) => requested[k] !== undefined && JSON.stringify(requested[k]) !== JSON.stringify(stored[k]),
  );
}

/**
 * Refuses a study whose values are out of range or contradict each other, before anything is
 * written: a negative momentum, a seed beyond 32 bits, a micro-batch that does not divide the
 * batch, an image-folder study without both folders. `where` names a stored file's values.
 */
export function checkStudy(study: StudyConfig, where?: string): void {
  const fail = (key: keyof StudyConfig, message: string): never => {
    const flag = studyFlag(key);
    throw new UsageError(
      where ? `${where}: study.${key} ${message}` : `--${flag} ${message}`,
      where ? 'resume' : flag,
    );
  };
  for (const key of STUDY_KEYS) {
    const { range, kind } = studyOption(key);
    if (!range) continue;
    const [least, most] = range;
    const integer = kind === 'integer';
    const value = study[key];
    if (value === null) continue;
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      (integer && !Number.isInteger(value))
    )
      fail(key, `must be ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(value)}`);
    else if (value < least || value > most) {
      const range =
        most === Number.MAX_VALUE
          ? `above ${least === Number.MIN_VALUE ? 0 : least}`
          : `between ${least === Number.MIN_VALUE ? 'above 0' : least} and ${most}`;
      fail(key, `must be ${range}, got ${value}`);
    }
  }
  if (study.nesterov && study.momentum <= 0) fail('nesterov', 'needs a --momentum above 0');
  if (study.seeds !== null) {
    const seeds = study.seeds;
    if (seeds.length === 0 || seeds.length > MAX_SEEDS)
      fail('seeds', `must hold 1 to ${MAX_SEEDS} seeds, got ${seeds.length}`);
    const bad = seeds.find((x) => !Number.isInteger(x) || x < 0 || x > 2 ** 32 - 1);
    if (bad !== undefined)
      fail('seeds', `must be integers between 0 and ${2 ** 32 - 1}, got ${JSON.stringify(bad)}`);
    if (new Set(seeds).size !== seeds.length) fail('seeds', 'names a seed twice');
  }
  if (study.rungs !== null) {
    if (!study.halving) fail('rungs', 'needs --halving');
    const bad = study.rungs.find((r) => !Number.isInteger(r) || r < 1 || r > study.epochs);
    if (bad !== undefined || study.rungs.length === 0)
      fail(
        'rungs',
        `must be epochs between 1 and --epochs ${study.epochs}, got ${JSON.stringify(bad ?? [])}`,
      );
  }
  if (study.microBatch !== null && study.batchSize % study.microBatch !== 0) {
    throw new UsageError(
      `${where ? `${where}: ` : ''}a micro-batch of ${study.microBatch} does not divide the batch size ${study.batchSize}: give a divisor of it`,
      'micro-batch',
    );
  }
  const folders = study.trainData !== null || study.valData !== null;
  if (study.dataset === 'ImageFolder' || folders) {
    if (study.trainData === null || study.valData === null) {
      throw new UsageError(
        'an image-folder study needs both --train-data DIR and --val-data DIR',
        study.trainData === null ? 'train-data' : 'val-data',
      );
    }
    if (study.dataset !== 'ImageFolder') {
      throw new UsageError(
        `--train-data and --val-data train on image folders, not on ${study.dataset}: drop --dataset`,
        'dataset',
      );
    }
    if (study.gcn) {
      throw new UsageError(
        'global contrast normalisation (--gcn) is not offered for image folders',
        'gcn',
      );
    }
  }
}

/** Whether a stored value has its option's JSON kind (or is null where null is a value). */
function storedKindOk(key: StudyKey, value: unknown): boolean {
  const { kind, nullable } = studyOption(key);
  if (value === null) return nullable;
  switch (kind) {
    case 'grid':
      return (
        typeof value === 'object' &&
        ['min', 'max', 'step'].every((k) => Number.isFinite((value as Record<string, unknown>)[k]))
      );
    case 'integers':
      return Array.isArray(value) && value.every((x) => typeof x === 'number');
    case 'integer':
    case 'number':
      return typeof value === 'number';
    case 'switch':
      return typeof value === 'boolean';
    case 'text':
    case 'choice':
      return typeof value === 'string';
  }
}

/** A stored study's keys under today's names (a run folder of an older featshift). */
export function upgradeStudy(raw: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(raw).map(([key, value]) =>
      // channelsLast (a boolean) became layout; those runs trained in the layout they named.
      key === 'channelsLast'
        ? (['layout', value === false ? 'nchw' : 'channels-last'] as const)
        : ([RENAMED[key] ?? key, value] as const),
    ),
  );
}

/**
 * A study read back from a run folder's config.json, every value checked: a file edited by hand
 * or damaged is refused with the file and the key, never trained with.
 */
export function parseStoredStudy(raw: unknown, path: string): StudyConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new UsageError(
      `${path}: 'study' is not an object: restore the file or start a new run`,
      'resume',
    );
  const given: Record<string, unknown> = { ...ADDED_LATER, ...upgradeStudy(raw) };
  const study: Record<string, unknown> = {};
  for (const key of STUDY_KEYS) {
    const value = given[key];
    if (!storedKindOk(key, value)) {
      const { kind, nullable } = studyOption(key);
      throw new UsageError(
        `${path}: study.${key} is ${value === undefined ? 'missing' : JSON.stringify(value)}, expected ${nullable ? `${kind} or null` : kind}: the file was edited or damaged; restore it or start a new run`,
        'resume',
      );
    }
    const { choices } = studyOption(key);
    if (choices && !choices.includes(value as string))
      throw new UsageError(
        `${path}: study.${key} '${String(value)}' is none of ${choices.join(', ')}: the file was edited or damaged; restore it or start a new run`,
        'resume',
      );
    study[key] = value;
  }
  const parsed = study as unknown as StudyConfig;
  checkStudy(parsed, path);
  return parsed;
}

/** The family options of a study's architectures (docs/method.md §2). */
export function familyOptions(study: StudyConfig, classes: number, colors = 3): MemberOptions {
  return {
    family: study.family,
    hold: study.hold,
    holdTolerance: study.holdTolerance,
    w0: study.w0,
    wa: study.wa,
    wm: study.wm,
    q: study.q,
    depth: study.depth,
    classes,
    colors,
    batchNorm: study.batchNorm > 0,
    patchSize: study.patchSize,
    ...(study.xi ? { xi: study.xi } : {}),
    omega: study.omega,
    alpha: study.alpha,
    minFeatures: study.minFeatures,
    areaTolerance: study.areaTolerance,
    ...(study.totalFeatures !== null ? { totalFeatures: study.totalFeatures } : {}),
    ...(study.widthMultiplier !== null ? { widthMultiplier: study.widthMultiplier } : {}),
  };
}

/**
 * The grid a study's ids number, in words: ids are positions in this grid only (id 59 of the
 * 1/8 family is not id 59 of another grid), so every listing of ids names it once.
 */
export function gridName(study: StudyConfig): string {
  const range = (g: { min: number; max: number; step: number }): string =>
    `${g.min}:${g.max}:${g.step}`;
  const scale =
    study.totalFeatures !== null
      ? `${study.totalFeatures} features in all`
      : study.widthMultiplier !== null && study.widthMultiplier !== 1
        ? `x${study.widthMultiplier} of VGG-${study.depth}'s features`
        : `VGG-${study.depth}'s features`;
  const held =
    study.hold === 'features'
      ? ''
      : `, each held to the baseline's ${study.hold === 'macs' ? 'MACs' : 'parameters'} within ${100 * study.holdTolerance} %`;
  const linear = `w0 ${range(study.w0)}, wa ${range(study.wa)}, ${study.wm ? `quantised by wm ${range(study.wm)} to multiples of ${study.q}` : 'not quantised'}`;
  const skewNormal = `xi ${range(study.xi ?? defaultXiGrid(study.depth - 1))}, omega ${range(study.omega)}, alpha ${range(study.alpha)}`;
  const tail = `${held}, at least ${study.minFeatures} features a layer`;
  if (study.family === 'both')
    return `the skew-normal and linear families of VGG-${study.depth}, ${scale} (${skewNormal}; ${linear}${tail})`;
  return `the ${study.family} family of VGG-${study.depth}, ${scale} (${study.family === 'linear' ? linear : skewNormal}${tail})`;
}

/** The architectures a study trains, in order: the baseline first (when asked), then the members. */
export function selectArchitectures(
  study: StudyConfig,
  data: { classes: number; inputChannels: number },
): Architecture[] {
  const options = familyOptions(study, data.classes, data.inputChannels);
  const family = familyMembers(options);
  if (family.length === 0) {
    throw new UsageError(
      study.family === 'skew-normal'
        ? 'this family has no member: at this feature budget every distribution leaves a layer under --min-features; give a larger --width-multiplier or --total-features'
        : 'this family has no member: every line leaves a layer under --min-features or misses the held cost; widen --wa, loosen --hold-tolerance, or give a larger --width-multiplier or --total-features',
      study.widthMultiplier !== null ? 'width-multiplier' : 'total-features',
    );
  }
  let members = family;
  if (study.ids !== null) {
    const keys = parseMemberKeys(study.ids, study.family);
    const known = new Set(family.map(memberKey));
    const bad = keys.filter((k) => (k === 0 ? !study.includeBaseline : !known.has(k)));
    if (bad.length > 0)
      throw new UsageError(
        `no architecture with id ${formatMemberKeys(bad)}: ${idRanges(family)}${study.includeBaseline ? ', and 0 for the baseline' : ' (0, the baseline, needs --include-baseline)'}; featshift family lists them`,
        'ids',
      );
    const wanted = new Set(keys);
    members = family.filter((a) => wanted.has(memberKey(a)));
  }
  return study.includeBaseline ? [baselineArchitecture(options), ...members] : members;
}

/** The ids each family of a listing spans, in words ('this family has ids 1-193 (2 of them ...)'). */
function idRanges(family: readonly Architecture[]): string {
  const kinds = [...new Set(family.map((a) => a.family ?? 'skew-normal'))];
  const spans = kinds.map((kind) => {
    const ids = family.filter((a) => (a.family ?? 'skew-normal') === kind).map((a) => a.id);
    const last = Math.max(...ids);
    const gaps = ids.length < last ? ` (${last - ids.length} of them not members here)` : '';
    const prefix = kind === 'linear' && kinds.length > 1 ? 'linear:' : '';
    return kinds.length > 1 ? `the ${kind} family ${prefix}1-${last}${gaps}` : `1-${last}${gaps}`;
  });
  return kinds.length > 1
    ? `the ids are ${spans.join(' and ')}`
    : `this family has ids ${spans[0]}`;
}
