import { memberKey, type MemberKey } from '../family/members.js';
import { UsageError } from '../errors.js';
import type { LoadedStudy } from '../run/load.js';
import type { StudyConfig } from '../run/study.js';

/** Study keys that say which runs a folder holds, not what they are: folders of one study differ there. */
const SELECTION_KEYS: readonly (keyof StudyConfig)[] = ['ids', 'includeBaseline', 'seed', 'seeds'];

/** A study option whose value differs between folders, with each folder's value. */
export interface StudyDifference {
  key: keyof StudyConfig;
  values: { dir: string; value: unknown }[];
}

/**
 * Where the studies of several run folders differ in anything that changes results (every
 * recorded option but the selection of architectures and seeds). Folders without a config.json
 * (the original code's CSVs) say nothing and differ in nothing here.
 */
export function studyDifferences(runs: readonly LoadedStudy[]): StudyDifference[] {
  const withStudy = runs.filter((r): r is LoadedStudy & { study: StudyConfig } => r.study !== null);
  const first = withStudy[0];
  if (!first) return [];
  const keys = (Object.keys(first.study) as (keyof StudyConfig)[]).filter(
    (k) => !SELECTION_KEYS.includes(k),
  );
  return keys
    .filter((k) =>
      withStudy.some((r) => JSON.stringify(r.study[k]) !== JSON.stringify(first.study[k])),
    )
    .map((key) => ({ key, values: withStudy.map((r) => ({ dir: r.dir, value: r.study[key] })) }));
}

const describe = (d: StudyDifference): string =>
  `${d.key} (${d.values.map((v) => `${JSON.stringify(v.value)} in ${v.dir}`).join(', ')})`;

/**
 * Checks that run folders can be pooled as one study: the same dataset and depth, the same
 * architecture under each id, and (unless `pool`) the same results-changing options. Returns the
 * warnings that pooling anyway (`pool`) leaves, to be printed with the analysis.
 */
export function checkOneStudy(runs: readonly LoadedStudy[], pool: boolean): string[] {
  const first = runs[0];
  if (!first) return [];
  const other = runs.find((r) => r.dataset !== first.dataset || r.depth !== first.depth);
  if (other) {
    throw new UsageError(
      `${other.dir} is a study of ${other.dataset} on VGG-${other.depth}, ${first.dir} one of ${first.dataset} on VGG-${first.depth}: analyse one study at a time`,
    );
  }
  const widths = new Map<MemberKey, { dir: string; widths: string }>();
  for (const run of runs) {
    for (const r of run.runs) {
      const id = memberKey(r);
      const known = widths.get(id);
      const mine = r.widths.join(' ');
      if (known && known.widths !== mine)
        throw new UsageError(
          `id ${id} has widths ${known.widths} in ${known.dir} and ${mine} in ${run.dir}: these folders hold different families (another width multiplier or feature total), and are not one study; analyse them apart`,
        );
      widths.set(id, { dir: run.dir, widths: mine });
    }
  }
  const differences = studyDifferences(runs);
  if (differences.length === 0) return [];
  if (!pool) {
    throw new UsageError(
      `these folders are not one study: they differ in ${differences.map(describe).join('; ')}; analyse them apart, or give --pool to pool them anyway`,
      'pool',
    );
  }
  return [
    `pooled with --pool although the studies differ in ${differences.map(describe).join('; ')}`,
  ];
}
