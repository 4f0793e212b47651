import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileDigest } from './checksum.js';
import { DataError } from './errors.js';
import { createProgress, megabytes } from '../util/progress.js';

export interface DownloadOptions {
  /** Abort a connection that delivers nothing for this long (default 30 s). */
  idleTimeoutMs?: number;
  /** Attempts per URL, resuming the partial file each time (default 3). */
  attempts?: number;
  /** First pause between attempts; doubles each time (default 1 s). */
  backoffMs?: number;
  quiet?: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** One attempt: resumes `part` from its current size when the server allows it. */
async function attempt(
  url: string,
  part: string,
  idleTimeoutMs: number,
  label: string,
  quiet: boolean,
): Promise<void> {
  const have = await sizeOf(part);
  const controller = new AbortController();
  let timer = setTimeout(() => {
    controller.abort();
  }, idleTimeoutMs);
  const alive = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      controller.abort();
    }, idleTimeoutMs);
  };
  try {
    const response = await fetch(url, {
      headers: have > 0 ? { Range: `bytes=${have}-` } : {},
      signal: controller.signal,
    });
    if (response.status !== 200 && response.status !== 206) {
      throw new Error(`HTTP ${response.status} ${response.statusText}`);
    }
    const resumed = response.status === 206;
    const length = Number(response.headers.get('content-length') ?? NaN);
    const total = (resumed ? have : 0) + length;
    const out = createWriteStream(part, { flags: resumed ? 'a' : 'w' });
    const progress = createProgress({
      label,
      total: Number.isFinite(total) ? total : 0,
      format: megabytes,
      quiet,
    });
    let done = resumed ? have : 0;
    try {
      if (!response.body) throw new Error('empty response');
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        alive();
        if (!out.write(chunk)) {
          await new Promise<void>((r) => {
            out.once('drain', () => {
              r();
            });
          });
        }
        done += chunk.byteLength;
        progress.update(done);
      }
    } finally {
      progress.stop();
      await new Promise<void>((resolve, reject) => {
        out.end((err?: Error | null) => {
          if (err) reject(err);
          else resolve();
        });
      });
    }
    if (Number.isFinite(total) && done !== total)
      throw new Error(`connection closed after ${done} of ${total} bytes`);
  } catch (error) {
    if (controller.signal.aborted)
      throw new Error(`no data for ${Math.round(idleTimeoutMs / 1000)} s (timed out)`);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Downloads the first URL that delivers a file that passes `verify` to `dest`. A partial
 * download lives in `dest.part` and is resumed (HTTP Range) on the next attempt or run; a
 * finished file is verified before it is renamed into place, and a file that fails verification
 * is deleted, never kept as good.
 */
export async function downloadVerified(
  urls: readonly string[],
  dest: string,
  verify: (path: string) => Promise<boolean>,
  options: DownloadOptions = {},
): Promise<void> {
  const idle = options.idleTimeoutMs ?? 30000;
  const attempts = options.attempts ?? 3;
  const backoff = options.backoffMs ?? 1000;
  const part = `${dest}.part`;
  await mkdir(dirname(dest), { recursive: true });
  const failures: string[] = [];
  for (const url of urls) {
    for (let i = 0; i < attempts; i++) {
      try {
        await attempt(
          url,
          part,
          idle,
          `download ${url.split('/').pop() ?? url}`,
          options.quiet ?? false,
        );
      } catch (error) {
        const reason =
          error instanceof Error
            ? error.cause instanceof Error
              ? error.cause.message
              : error.message
            : String(error);
        failures.push(`${url}: ${reason}`);
        if (i + 1 < attempts) await sleep(backoff * 2 ** i);
        continue;
      }
      if (await verify(part)) {
        await rename(part, dest);
        return;
      }
      const actual = await fileDigest(part, 'md5');
      await rm(part, { force: true });
      failures.push(`${url}: checksum mismatch (got MD5 ${actual}); the download was deleted`);
      break; // the same server would send the same bytes: try the next mirror
    }
  }
  throw new DataError(
    `could not download a good copy: ${[...new Set(failures)].join('; ')}`,
    dest,
    { unreachable: true },
  );
}
