import { Command } from 'commander';
import { loadDataset, requireDatasetSpec } from '../data/dataset.js';
import { labelHistogram } from '../data/image-set.js';
import { DATASET_NAMES, DATASETS } from '../data/registry.js';
import { cacheDir, inspectDataset, type SourceOptions } from '../data/sources.js';

interface DataOptions {
  dataDir?: string;
  quiet?: boolean;
}

const sourceOptions = (o: DataOptions, download: boolean): SourceOptions => ({
  ...(o.dataDir ? { dataDir: o.dataDir } : {}),
  download,
  downloadOptions: { quiet: o.quiet ?? false },
});

/** `featshift data ls | fetch NAME | verify NAME`. */
export function dataCommand(): Command {
  const data = new Command('data').description('list, fetch and verify the datasets');
  const dataDir = [
    '--data-dir <DIR>',
    'a folder holding the dataset files (tried before the cache)',
  ] as const;

  data
    .command('ls')
    .description('which datasets are present, where, and whether they verify')
    .option(...dataDir)
    .action(async (o: DataOptions) => {
      const lines = [`cache: ${cacheDir()}`];
      for (const name of DATASET_NAMES) {
        const files = await inspectDataset(DATASETS[name], sourceOptions(o, false));
        const good = files.filter((f) => f.verifiedBy).length;
        const state =
          good === files.length
            ? 'present, verified'
            : files.some((f) => f.bad)
              ? 'DAMAGED'
              : good > 0
                ? 'partial'
                : 'missing';
        lines.push(`${name.padEnd(13)} ${state}`);
        for (const f of files) {
          const how = f.verifiedBy
            ? `verified (${f.verifiedBy === 'md5' ? 'published MD5' : 'content SHA-256'})`
            : f.bad
              ? 'CHECKSUM MISMATCH'
              : 'missing';
          lines.push(
            `  ${f.file.name.padEnd(28)} ${how.padEnd(28)} ${f.path ? `${f.origin ?? ''}: ${f.path}` : ''}`.trimEnd(),
          );
        }
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  data
    .command('fetch')
    .description('download a dataset into the cache (verified), unless it is already present')
    .argument('<NAME>', `one of ${DATASET_NAMES.join(', ')}`)
    .option(...dataDir)
    .option('-q, --quiet', 'no progress output')
    .action(async (name: string, o: DataOptions) => {
      const d = await loadDataset(requireDatasetSpec(name).name, sourceOptions(o, true));
      const where = d.files.map((f) => `  ${f.file.name}: ${f.origin} ${f.path}`).join('\n');
      process.stdout.write(
        `${d.spec.name}: ${d.train.count} training and ${d.test.count} test images\n${where}\n`,
      );
    });

  data
    .command('verify')
    .description('check a present dataset: checksums, formats, counts and labels')
    .argument('<NAME>', `one of ${DATASET_NAMES.join(', ')}`)
    .option(...dataDir)
    .action(async (name: string, o: DataOptions) => {
      const spec = requireDatasetSpec(name);
      const d = await loadDataset(spec.name, sourceOptions(o, false));
      const histogram = labelHistogram(d.train, spec.classes);
      const lines = [
        `${spec.name}: ok`,
        ...d.files.map(
          (f) =>
            `  ${f.file.name}: ${f.verifiedBy === 'md5' ? 'published MD5' : 'content SHA-256'} matches (${f.path})`,
        ),
        `  train: ${d.train.count} images of ${d.train.channels}x${d.train.size}x${d.train.size}, labels per class ${histogram.join(' ')}`,
        `  test: ${d.test.count} images`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  return data;
}
