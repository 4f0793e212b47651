import { existsSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { UsageError } from '../errors.js';
import {
  CHECKPOINTS_DIR,
  CONFIG_FILE,
  CSV_NAME,
  ENVIRONMENT_FILE,
  FAILED_FILE,
  HALVING_FILE,
  LOCK_FILE,
  RESULTS_FILE,
} from '../run/files.js';

/** What a run folder holds of its own: written by the sweep, read back by every command. */
const RUN_FILES = new Set([
  CONFIG_FILE,
  ENVIRONMENT_FILE,
  RESULTS_FILE,
  FAILED_FILE,
  LOCK_FILE,
  HALVING_FILE,
  CHECKPOINTS_DIR,
]);

/** A path as the file system resolves it, for a file that may not exist yet. */
function realPath(path: string): string {
  if (existsSync(path)) return realpathSync(path);
  const parent = dirname(resolve(path));
  return existsSync(parent) ? `${realpathSync(parent)}${sep}${basename(path)}` : resolve(path);
}

/**
 * Refuses an output file (`-o`) that would overwrite what a command's run folders are made of (their
 * config.json, results, CSVs, checkpoints, seed folders) or that names a folder: the report or
 * the analysis must never destroy the run it reads. A new file in a run folder (report.html) is
 * fine.
 */
export function checkOutputPath(
  output: string,
  runDirs: readonly string[],
  option = 'output',
): void {
  if (existsSync(output) && statSync(output).isDirectory())
    throw new UsageError(`${output} is a folder: give a file name to write to`, option);
  const target = realPath(output);
  for (const dir of runDirs) {
    if (!existsSync(dir)) continue;
    const inside = relative(realpathSync(dir), target);
    if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) continue;
    const first = inside.split(sep)[0] ?? '';
    if (RUN_FILES.has(first) || CSV_NAME.test(first) || /^seed-/.test(first)) {
      throw new UsageError(
        `${output} is ${first === inside ? '' : 'inside '}the run folder's own ${first}: writing there would destroy the run; give another file`,
        option,
      );
    }
  }
}
