import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadStudy, type LoadedStudy } from '../run/load.js';
import { reportData, reportHtml } from './html.js';
import { RESULTS_FILE } from '../run/files.js';

const isLoopback = (address: string): boolean =>
  address.startsWith('127.') || address === '::1' || address === '::ffff:127.0.0.1';

/** A folder the page can show: results, or a featshift study that has started (none finished). */
const showable = (run: LoadedStudy): boolean => run.runs.length > 0 || run.study !== null;

export interface ViewServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/**
 * Serves the report of run folders, re-read on every request so that a running sweep shows its
 * newest results and the runs in training (the page polls /data.json). Only two routes exist,
 * `/` and `/data.json`: nothing else on the disk can be reached. A folder that is being written, changes or disappears
 * keeps its last good data, with a warning.
 */
export async function serveReport(
  dirs: string[],
  host = '127.0.0.1',
  port = 0,
): Promise<ViewServer> {
  const last = new Map<string, LoadedStudy>();
  const current = (): LoadedStudy[] =>
    dirs.map((dir) => {
      try {
        const run = loadStudy(dir, { inProgress: true });
        last.set(dir, run);
        return run;
      } catch (error) {
        const previous = last.get(dir);
        const reason = error instanceof Error ? error.message : String(error);
        if (previous)
          return {
            ...previous,
            warnings: [...previous.warnings, `${dir}: ${reason}; showing the last results read`],
          };
        return {
          name: dir,
          dir,
          dataset: 'unknown',
          depth: 16,
          source: RESULTS_FILE,
          runs: [],
          baselineWidths: [],
          planned: null,
          seeds: [],
          epochs: null,
          study: null,
          training: null,
          warnings: [reason],
        };
      }
    });
  // null: any Host (a server bound to a public address, on purpose).
  let allowedHosts: Set<string> | null = new Set<string>();
  const server = createServer((req, res) => {
    // DNS rebinding: a page from another site whose name now points at 127.0.0.1 sends its own
    // Host. A loopback server answers only the names it is reached under.
    if (allowedHosts && !allowedHosts.has((req.headers.host ?? '').toLowerCase())) {
      res.writeHead(421, { 'content-type': 'text/plain' }).end('misdirected request\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/' || path === '/index.html') {
      const runs = current().filter(showable);
      if (runs.length === 0) {
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
        });
        res.end(
          '<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="3"><title>featshift</title><p>No run folder can be shown yet; this page reloads every 3 seconds.</p>',
        );
        return;
      }
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
      });
      res.end(reportHtml(reportData(runs, true)));
      return;
    }
    if (path === '/data.json') {
      const runs = current().filter(showable);
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(reportData(runs, true)));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  allowedHosts = isLoopback(address.address)
    ? new Set(
        [shown, host, 'localhost', '127.0.0.1', '[::1]'].flatMap((name) => {
          const bracketed = name.includes(':') && !name.startsWith('[') ? `[${name}]` : name;
          // A browser leaves the default port out of Host.
          const names = [`${bracketed}:${address.port}`];
          if (address.port === 80) names.push(bracketed);
          return names.map((n) => n.toLowerCase());
        }),
      )
    : null;
  return {
    url: `http://${shown}:${address.port}/`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
