import http from 'node:http';
import { startFauxqs } from 'fauxqs';
import { type FaultProxy, startFaultProxy } from './fault-proxy.js';

/** fauxqs (an in-memory S3) on a free port, behind a fault proxy that counts requests. */
export interface FakeS3 {
  /** The proxy's endpoint: what stores under test are given. */
  endpoint: string;
  /** fauxqs itself, without the proxy. */
  directEndpoint: string;
  proxy: FaultProxy;
  /** Create a fresh bucket and return its name. */
  bucket(): string;
  /** Store objects straight into fauxqs (no SDK, no signing): fast set-up of many objects. */
  seed(bucket: string, objects: { key: string; body: Buffer }[]): Promise<void>;
  /** Drop the objects of every bucket made so far (fauxqs holds them in memory). */
  empty(): void;
  stop(): Promise<void>;
}

let buckets = 0;

export async function startFakeS3(): Promise<FakeS3> {
  // The SDK's default chain reads these; fauxqs checks no signature. No instance-metadata lookups.
  process.env.AWS_ACCESS_KEY_ID = 'test-key';
  process.env.AWS_SECRET_ACCESS_KEY = 'test-secret';
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
  const server = await startFauxqs({ port: 0, logger: false });
  const proxy = await startFaultProxy(server.port);
  const made: string[] = [];
  return {
    endpoint: proxy.endpoint,
    directEndpoint: `http://127.0.0.1:${server.port}`,
    proxy,
    bucket() {
      const name = `bucket-${process.pid}-${++buckets}`;
      server.createBucket(name);
      made.push(name);
      return name;
    },
    async seed(bucket, objects) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
      const put = ({ key, body }: { key: string; body: Buffer }) => new Promise<void>((resolve, reject) => {
        const path = `/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
        const req = http.request({ host: '127.0.0.1', port: server.port, method: 'PUT', path, agent, headers: { 'content-length': body.length } }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`seed ${key}: HTTP ${res.statusCode}`))));
        });
        req.on('error', reject);
        req.end(body);
      });
      const queue = [...objects];
      await Promise.all(Array.from({ length: 16 }, async () => {
        for (let o = queue.shift(); o; o = queue.shift()) await put(o);
      }));
      agent.destroy();
    },
    empty() {
      for (const b of made) server.emptyBucket(b);
    },
    async stop() {
      await proxy.close();
      await server.stop();
    },
  };
}
