import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLlmMetrics, startMetrics } from '@inferwatch/sdk';

/**
 * A down or hanging OTLP endpoint must not hold the host's shutdown: shutdown() returns within
 * `shutdownTimeoutMs` (default 2000 ms), whatever the collector does. The bounds below add one
 * second for a loaded machine; the defect they catch took 10 to 30 s.
 */

const opened: { server: Server; sockets: Set<Socket> }[] = [];
afterEach(async () => {
  for (const { server, sockets } of opened.splice(0)) {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** Accepts connections and reads what comes, but never answers. */
async function blackHole(): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  opened.push({ server, sockets });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/metrics`;
}

/** A port nothing listens on. */
async function refused(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}/v1/metrics`;
}

async function shutdownTime(url: string, shutdownTimeoutMs?: number): Promise<number> {
  const llm = createLlmMetrics({ log: false });
  llm.startRequest({ model: 'm' }).end();
  const telemetry = startMetrics({ llm, prometheus: false, meterProvider: 'private', otlp: { url }, shutdownTimeoutMs });
  const started = performance.now();
  await telemetry.shutdown();
  return performance.now() - started;
}

// Bounds with room for a busy machine (other test files run beside this one) that still tell the
// defect apart: unbounded, a shutdown took 16 s; ignoring shutdownTimeoutMs it would take the default 2 s.
describe('shutdown() with a bad OTLP endpoint', () => {
  it('an endpoint that accepts and never answers: at most the default 2 s', async () => {
    expect(await shutdownTime(await blackHole())).toBeLessThan(6000);
  });

  it('a refused endpoint (retried by the exporter): at most the default 2 s', async () => {
    expect(await shutdownTime(await refused())).toBeLessThan(6000);
  });

  it('honours a shorter shutdownTimeoutMs', async () => {
    expect(await shutdownTime(await blackHole(), 200)).toBeLessThan(1500);
  });
});
