import cliProgress from 'cli-progress';

export interface Progress {
  /** Sets the amount done so far (and optional named values shown beside the bar). */
  update(done: number, values?: Record<string, string | number>): void;
  stop(): void;
}

export interface ProgressOptions {
  label: string;
  total: number;
  /** How to show amounts, e.g. bytes as MB. */
  format?: (value: number) => string;
  unit?: string;
  quiet?: boolean;
  stream?: NodeJS.WriteStream;
}

/**
 * A progress bar with rate and ETA on a terminal; plain lines (at most one each 10 % or 15 s) when
 * the output is not a terminal, as in CI logs; nothing when quiet.
 */
export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const show = options.format ?? ((v: number) => String(v));
  if (options.quiet) return { update: () => undefined, stop: () => undefined };
  const started = Date.now();
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: `${options.label} [{bar}] {percentage}% | {shown}/{totalShown} | {rate} | ETA {eta_formatted}`,
        hideCursor: true,
        etaBuffer: 20,
      },
      cliProgress.Presets.shades_classic,
    );
    const payload = (done: number): Record<string, string> => {
      const seconds = Math.max((Date.now() - started) / 1000, 1e-3);
      return {
        shown: show(done),
        totalShown: show(options.total),
        rate: `${show(done / seconds)}${options.unit ?? ''}/s`,
      };
    };
    bar.start(options.total, 0, payload(0));
    return {
      update: (done, values) => {
        bar.update(done, { ...payload(done), ...values });
      },
      stop: () => {
        bar.stop();
      },
    };
  }
  let lastLine = 0;
  let lastTenth = -1;
  return {
    update: (done) => {
      const tenth = Math.floor((10 * done) / Math.max(options.total, 1));
      const now = Date.now();
      if (tenth === lastTenth && now - lastLine < 15000) return;
      lastTenth = tenth;
      lastLine = now;
      const seconds = Math.max((now - started) / 1000, 1e-3);
      const rate = done / seconds;
      const eta = rate > 0 ? Math.round((options.total - done) / rate) : NaN;
      stream.write(
        `${options.label}: ${show(done)}/${show(options.total)} (${Math.floor((100 * done) / Math.max(options.total, 1))}%), ${show(rate)}${options.unit ?? ''}/s, ETA ${Number.isNaN(eta) ? '?' : `${eta}s`}\n`,
      );
    },
    stop: () => undefined,
  };
}

export const megabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
