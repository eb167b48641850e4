// GETs of objects without the SDK's per-request middleware. A pull of 10,000 small objects spent
// three times rclone's CPU inside `client.send` (endpoint rules, serde, retry and signing
// middleware per request); this path signs with the SDK's own signer and credentials and sends
// on the SDK's own keep-alive agents, to the route the SDK itself used for a GET that succeeded.
// It answers only a 200: anything else (a 404, throttling, a redirect, a refusal) is handed back
// to the SDK, which owns the errors, the retries and the region, for that request.
import type { IncomingMessage } from 'node:http';
import type { Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';

/** Where the SDK sent a GetObject that succeeded, and the region it signed for. */
interface Route {
  protocol: string;
  hostname: string;
  port: number | undefined;
  /** The request path before the object's key: `/bucket/prefix/` path-style, `/prefix/` virtual-hosted. */
  prefix: string;
  query: Record<string, string>;
  region: string;
}

interface Signer {
  sign(request: unknown, options: { signingRegion: string; signingService: string }): Promise<{ headers: Record<string, string> }>;
}

/** Keys this path sends as they are: object keys are `dvcl/v1/objects/<algo>/<hex>/<hex>`. */
const PLAIN_KEY = /^[A-Za-z0-9._/-]+$/;
const CREDENTIAL_REGION = /Credential=[^/]+\/\d{8}\/([^/]+)\/s3\/aws4_request/;
/** Answers that will come again for every object (a region or endpoint the route got wrong, a refusal): this path stops. */
const GIVE_UP = new Set([301, 302, 307, 308, 400, 401, 403]);

export class DirectGet {
  private route: Route | null = null;
  private off = false;
  private signer: Promise<Signer> | null = null;

  constructor(
    private readonly client: S3Client,
    private readonly agents: { http: HttpAgent; https: HttpsAgent },
    /** The object keys' prefix inside the bucket (`team/` or ''). */
    private readonly base: string,
    private readonly socketTimeout: number,
  ) {
    // After signing, at the end of the SDK's chain: the request as sent. Added before the first
    // send (the client caches each command's resolved stack).
    client.middlewareStack.add((next, context) => async (args) => {
      const out = await next(args);
      if (context.commandName === 'GetObjectCommand' && !this.route && !this.off) this.learn(args.request, args.input, out.response);
      return out;
    }, { step: 'finalizeRequest', priority: 'low', name: 'dvclDirectGetRoute' });
  }

  /**
   * The object's bytes, or its body as a stream when it is larger than `limit`; null when this path
   * cannot answer (no route yet, a key it does not send, anything but a 200): ask the SDK.
   * A body broken after the headers rejects, as the SDK's would: the caller retries.
   */
  async get(key: string, limit: number): Promise<Buffer | Readable | null> {
    const route = this.route;
    if (!route || this.off || !PLAIN_KEY.test(key)) return null;
    const path = route.prefix + key;
    const host = route.port === undefined ? route.hostname : `${route.hostname}:${route.port}`;
    let headers: Record<string, string>;
    try {
      // The SDK's own signer (its credentials, refreshed as it refreshes them); an SDK without one: this path stops.
      const signer = await (this.signer ??= (this.client.config as unknown as { signer: () => Promise<Signer> }).signer());
      ({ headers } = await signer.sign(
        { method: 'GET', protocol: route.protocol, hostname: route.hostname, port: route.port, path, query: route.query, headers: { host } },
        { signingRegion: route.region, signingService: 's3' },
      ));
    } catch {
      this.off = true; // no signer, or no credentials: the SDK says so in its words
      return null;
    }
    headers['user-agent'] = 'dvcl'; // not signed: set after
    const https = route.protocol === 'https:';
    const { request } = https ? await import('node:https') : await import('node:http');
    const search = new URLSearchParams(route.query).toString();
    const res = await new Promise<IncomingMessage | null>((resolve) => {
      const req = request({
        agent: https ? this.agents.https : this.agents.http, method: 'GET', protocol: route.protocol,
        hostname: route.hostname, port: route.port, path: search ? `${path}?${search}` : path, headers,
      }, resolve);
      req.setTimeout(this.socketTimeout, () => req.destroy(new Error('socket timeout')));
      req.on('error', () => resolve(null)); // before any answer: the SDK tries, and names what is wrong
      req.end();
    });
    if (!res) return null;
    if (res.statusCode !== 200) {
      if (GIVE_UP.has(res.statusCode ?? 0)) this.off = true;
      res.resume();
      return null;
    }
    const length = Number(res.headers['content-length']);
    if (!Number.isSafeInteger(length) || length > limit) return res;
    return collect(res, length);
  }

  private learn(request: unknown, input: unknown, response: unknown): void {
    const r = request as { protocol?: string; hostname?: string; port?: number; path?: string; query?: Record<string, unknown>; headers?: Record<string, string> };
    const key = (input as { Key?: string }).Key;
    if ((response as { statusCode?: number }).statusCode !== 200 || !r.hostname || !r.path || !key?.startsWith(this.base)) return;
    const tail = key.slice(this.base.length);
    const region = CREDENTIAL_REGION.exec(r.headers?.authorization ?? '')?.[1];
    if (!region || !PLAIN_KEY.test(tail) || !r.path.endsWith(tail)) return;
    const query: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.query ?? {})) if (typeof v === 'string') query[k] = v;
    this.route = { protocol: r.protocol ?? 'https:', hostname: r.hostname, port: r.port, prefix: r.path.slice(0, r.path.length - tail.length), query, region };
  }
}

/** The whole body of `length` bytes; a short one (a connection closed early) rejects. */
function collect(res: IncomingMessage, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const buf = Buffer.allocUnsafe(length);
    let n = 0;
    res.on('data', (c: Buffer) => {
      if (n + c.length > length) return void res.destroy(new Error(`body longer than its Content-Length ${length}`));
      c.copy(buf, n);
      n += c.length;
    });
    res.on('end', () => (n === length ? resolve(buf) : reject(new Error(`body cut short: ${n} of ${length} bytes`))));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error(`body cut short: ${n} of ${length} bytes`)));
  });
}
