import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the proxy saw (1-based `n` in arrival order). */
export interface SeenRequest {
  n: number;
  method: string;
  /** The path, percent-decoded, without the query. */
  path: string;
  query: URLSearchParams;
  /** The request's Content-Length header, when it had one. */
  contentLength: number | undefined;
  /** Its User-Agent header ('' without one): the SDK's requests say aws-sdk-js, dvcl's direct GETs dvcl. */
  userAgent: string;
}

/** What to do with a request: forward it (undefined), or break it in one way. */
export type Fault =
  | { kind: 'error'; status: number; code: string; message?: string } // an S3 XML error instead of forwarding
  | { kind: 'reset'; afterBytes?: number }   // forward, then destroy the connection mid-body
  | { kind: 'truncate'; bytes: number }      // forward a short body with a matching Content-Length
  | { kind: 'corrupt' }                      // forward the body with one byte changed
  | { kind: 'slow'; bytesPerSecond: number }; // forward the body, throttled (a transfer to kill mid-way)

export interface FaultProxy {
  readonly port: number;
  readonly endpoint: string;
  readonly requests: SeenRequest[];
  /** Decide each request's fate from now on; `null` forwards everything. */
  setFault(decide: ((r: SeenRequest) => Fault | undefined) | null): void;
  /** Forget the requests seen so far. */
  clear(): void;
  count(filter: (r: SeenRequest) => boolean): number;
  close(): Promise<void>;
}

/** An HTTP proxy in front of `targetPort` on 127.0.0.1 that records requests and injects faults. */
export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  const requests: SeenRequest[] = [];
  let decide: ((r: SeenRequest) => Fault | undefined) | null = null;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const len = req.headers['content-length'];
    const seen: SeenRequest = {
      n: requests.length + 1, method: req.method ?? 'GET', path: decodeURIComponent(url.pathname), query: url.searchParams,
      contentLength: len === undefined ? undefined : Number(len),
      userAgent: req.headers['user-agent'] ?? '',
    };
    requests.push(seen);
    const fault = decide?.(seen);
    if (fault?.kind === 'error') {
      req.resume();
      req.on('end', () => {
        const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${fault.code}</Code><Message>${fault.message ?? fault.code}</Message><RequestId>proxy</RequestId></Error>`;
        res.writeHead(fault.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
        res.end(seen.method === 'HEAD' ? undefined : body);
      });
      return;
    }
    const upstream = http.request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, (up) => {
      if (fault?.kind === 'slow') {
        res.writeHead(up.statusCode ?? 502, up.headers);
        const chunk = Math.max(1, Math.floor(fault.bytesPerSecond / 20));
        up.on('data', (c: Buffer) => {
          up.pause();
          let off = 0;
          const tick = () => {
            if (res.destroyed) return up.destroy();
            res.write(c.subarray(off, off + chunk));
            off += chunk;
            if (off < c.length) setTimeout(tick, 50);
            else up.resume();
          };
          tick();
        });
        up.on('end', () => res.end());
        return;
      }
      if (!fault) {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      up.on('data', (c: Buffer) => chunks.push(c));
      up.on('end', () => {
        const body = Buffer.concat(chunks);
        if (fault.kind === 'reset') {
          res.writeHead(up.statusCode ?? 502, up.headers);
          res.write(body.subarray(0, fault.afterBytes ?? Math.floor(body.length / 2)), () => res.socket?.destroy());
          return;
        }
        const out = fault.kind === 'truncate' ? body.subarray(0, fault.bytes) : Buffer.from(body);
        if (fault.kind === 'corrupt' && out.length > 0) out[out.length >> 1] ^= 0xff;
        res.writeHead(up.statusCode ?? 502, { ...up.headers, 'content-length': String(out.length) });
        res.end(out);
      });
    });
    upstream.on('error', () => res.socket?.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    setFault(d) {
      decide = d;
    },
    clear() {
      requests.length = 0;
    },
    count(filter) {
      return requests.filter(filter).length;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** Requests of the S3 operation: a HEAD of an object, a GET of one, or a listing. */
export const isHead = (r: SeenRequest) => r.method === 'HEAD' && /^\/[^/]+\/./.test(r.path);
export const isHeadBucket = (r: SeenRequest) => r.method === 'HEAD' && !/^\/[^/]+\/./.test(r.path);
export const isList = (r: SeenRequest) => r.method === 'GET' && r.query.get('list-type') === '2';
export const isGetObject = (r: SeenRequest) => r.method === 'GET' && !r.query.has('list-type');
export const isUploadPart = (r: SeenRequest) => r.method === 'PUT' && r.query.has('partNumber');
