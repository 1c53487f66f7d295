import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export { freePort } from '../../scripts/lib/processes.mjs';

/** Serves `handler` on 127.0.0.1 on an ephemeral port. */
export async function serve(handler: RequestListener): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A request a `recordingServer` kept. */
export interface RecordedRequest {
  url: string | undefined;
  contentType: string | undefined;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A loopback receiver (an OTLP/HTTP endpoint, say) that keeps every request it gets and answers 200. */
export async function recordingServer() {
  const received: RecordedRequest[] = [];
  const app = await serve((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ url: req.url, contentType: req.headers['content-type'], headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/json' }).end(req.headers['content-type']?.includes('json') ? '{}' : '');
    });
  });
  return { ...app, received };
}
