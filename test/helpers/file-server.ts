import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Served {
  body: Uint8Array;
  /** The first N requests get HTTP 500. */
  failFirst?: number;
  /** The first full (non-range) response is cut after this many bytes. */
  cutAfter?: number;
}

export interface FileServer {
  url: string;
  requests: { path: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

/** A small HTTP server on 127.0.0.1 (a free port) that serves files, honours Range, and misbehaves on request. */
export async function serveFiles(files: Record<string, Served>): Promise<FileServer> {
  const requests: FileServer['requests'] = [];
  const failures = new Map<string, number>();
  const cut = new Set<string>();
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').slice(1));
    requests.push({ path, headers: req.headers });
    const f = files[path];
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    const failed = failures.get(path) ?? 0;
    if (failed < (f.failFirst ?? 0)) {
      failures.set(path, failed + 1);
      res.writeHead(500).end();
      return;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      res.writeHead(206, {
        'content-length': f.body.length - start,
        'content-range': `bytes ${start}-${f.body.length - 1}/${f.body.length}`,
      });
      res.end(Buffer.from(f.body.subarray(start)));
      return;
    }
    res.writeHead(200, { 'content-length': f.body.length });
    if (f.cutAfter !== undefined && !cut.has(path)) {
      cut.add(path);
      res.write(Buffer.from(f.body.subarray(0, f.cutAfter)), () => {
        res.socket?.destroy();
      });
      return;
    }
    res.end(Buffer.from(f.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
