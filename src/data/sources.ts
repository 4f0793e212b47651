import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { bytesDigest, fileDigest } from './checksum.js';
import { downloadVerified, type DownloadOptions } from './download.js';
import { DataError } from './errors.js';
import { gunzipFile } from './idx.js';
import { isDirectory } from '../util/is-directory.js';
import type { DatasetSpec, PublishedFile } from './registry.js';

/** Where featshift keeps downloaded datasets: FEATSHIFT_CACHE_DIR, else XDG's cache folder. */
export function cacheDir(): string {
  const explicit = process.env.FEATSHIFT_CACHE_DIR;
  if (explicit) return explicit;
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.cache'), 'featshift');
}

export type Origin = 'data-dir' | 'cache' | 'system' | 'download';

export interface LocatedFile {
  file: PublishedFile;
  path: string;
  origin: Origin;
  /** How it was verified: its published MD5, or the hash of its decompressed content. */
  verifiedBy: Verification;
  /** Its decompressed content where verifying it decompressed it (read it from here, not again). */
  content?: Uint8Array;
}

export type Verification = 'md5' | 'content';

export interface SourceOptions {
  /** An explicit folder holding the files (directly, or in a sub-folder named after the dataset). */
  dataDir?: string;
  /** Download what is missing (default true). */
  download?: boolean;
  /** Base URLs to use instead of the published ones (FEATSHIFT_DATA_MIRROR, comma-separated). */
  mirrors?: string[];
  downloadOptions?: DownloadOptions;
  /**
   * Files this program verified already, by path (a sweep's training processes get the sweep's):
   * taken as verified without hashing them again.
   */
  verified?: ReadonlyMap<string, Verification>;
}

/** The places a file may already be, in the order they are tried. */
export function candidates(
  spec: DatasetSpec,
  options: SourceOptions,
): { dir: string; origin: Origin }[] {
  const list: { dir: string; origin: Origin }[] = [];
  if (options.dataDir) {
    // A folder the user named must exist: silently looking elsewhere would train on other files.
    if (!isDirectory(options.dataDir))
      throw new DataError(
        'no such folder: --data-dir must name the folder that holds the dataset files',
        options.dataDir,
      );
    list.push(
      { dir: options.dataDir, origin: 'data-dir' },
      { dir: join(options.dataDir, spec.name), origin: 'data-dir' },
    );
  }
  list.push({ dir: join(cacheDir(), 'datasets', spec.name), origin: 'cache' });
  for (const dir of spec.systemDirs) list.push({ dir, origin: 'system' });
  return list;
}

/** Verifies a file: its published MD5, or else the SHA-256 of its decompressed content. */
export async function verifyFile(
  path: string,
  file: PublishedFile,
): Promise<Verification | undefined> {
  return (await verify(path, file))?.verifiedBy;
}

/** How a file verifies, with the content it decompressed to do so (repackaged files). */
async function verify(
  path: string,
  file: PublishedFile,
): Promise<{ verifiedBy: Verification; content?: Uint8Array } | undefined> {
  if ((await fileDigest(path, 'md5')) === file.md5) return { verifiedBy: 'md5' };
  if (file.contentSha256 && path.endsWith('.gz')) {
    try {
      const content = gunzipFile(await readFile(path), path);
      if (bytesDigest(content, 'sha256') === file.contentSha256)
        return { verifiedBy: 'content', content };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function mirrorsFor(spec: DatasetSpec, options: SourceOptions): string[] {
  const env = process.env.FEATSHIFT_DATA_MIRROR;
  const bases = options.mirrors ?? (env ? env.split(',').filter(Boolean) : spec.mirrors);
  return bases.map((b) => (b.endsWith('/') ? b : `${b}/`));
}

/**
 * Finds each file of a dataset (explicit folder, cache, system package, then download into the
 * cache) and verifies it before first use. A file that is present but fails verification is an
 * error naming it: featshift never trains on a file it could not verify.
 */
export async function locateDataset(
  spec: DatasetSpec,
  options: SourceOptions = {},
): Promise<LocatedFile[]> {
  const located: LocatedFile[] = [];
  for (const file of spec.files) {
    let found: LocatedFile | undefined;
    for (const { dir, origin } of candidates(spec, options)) {
      const path = join(dir, file.name);
      if (!existsSync(path)) continue;
      const known = options.verified?.get(path);
      const verified = known ? { verifiedBy: known } : await verify(path, file);
      if (!verified) {
        throw new DataError(
          `checksum mismatch: neither the published MD5 (${file.md5}) nor the published content hash matches this file; delete it to fetch it again`,
          path,
        );
      }
      found = { file, path, origin, ...verified };
      break;
    }
    if (!found) {
      const dest = join(cacheDir(), 'datasets', spec.name, file.name);
      const urls = mirrorsFor(spec, options).map((base) => `${base}${file.name}`);
      const ways = `give --data-dir DIR with the file in it, put it in ${join(cacheDir(), 'datasets', spec.name)}${spec.systemDirs.length ? ", or install Debian's dataset-fashion-mnist" : ''}`;
      if (options.download === false) {
        throw new DataError(
          `${file.name} of ${spec.name} is not present; ${ways}, or run 'featshift data fetch ${spec.name}'`,
        );
      }
      try {
        await downloadVerified(
          urls,
          dest,
          async (part) => (await verifyFile(part, file)) !== undefined,
          options.downloadOptions,
        );
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new DataError(
          `${file.name} of ${spec.name} is missing and could not be downloaded (${reason}); ${ways}`,
          undefined,
          { unreachable: true },
        );
      }
      found = {
        file,
        path: dest,
        origin: 'download',
        verifiedBy: (await verifyFile(dest, file)) ?? 'md5',
      };
    }
    located.push(found);
  }
  return located;
}

export interface FileStatus {
  file: PublishedFile;
  /** Where it was found, or undefined when nowhere. */
  path?: string;
  origin?: Origin;
  verifiedBy?: 'md5' | 'content';
  /** Found but failed verification. */
  bad?: boolean;
}

/** Where each file of a dataset is and whether it verifies, without downloading or throwing. */
export async function inspectDataset(
  spec: DatasetSpec,
  options: SourceOptions = {},
): Promise<FileStatus[]> {
  const out: FileStatus[] = [];
  for (const file of spec.files) {
    let status: FileStatus = { file };
    for (const { dir, origin } of candidates(spec, options)) {
      const path = join(dir, file.name);
      if (!existsSync(path)) continue;
      const verifiedBy = await verifyFile(path, file);
      status = verifiedBy ? { file, path, origin, verifiedBy } : { file, path, origin, bad: true };
      break;
    }
    out.push(status);
  }
  return out;
}
