import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
// @ts-expect-error: plain JavaScript
import { startGateway } from '../../examples/gateway/gateway.mjs';
import { startEngine, type Started } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';

describe('the example gateway’s log line', () => {
  let engine: Started;
  beforeAll(async () => {
    engine = await startEngine();
  });
  afterAll(async () => engine?.stop());

  it('prints its own throughput and the engine’s state under the engine’s name', async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
    const gateway = await startGateway({ upstreams: [engine.url], port: 0, logIntervalMs: 300, bridgeIntervalMs: 100, gpu: false });
    try {
      await waitUntil(() => lines.some((l) => l.includes('upstream')), { what: 'a log line with the upstream', intervalMs: 100 });
    } finally {
      await gateway.close(100);
      spy.mockRestore();
    }
    const line = lines.find((l) => l.includes('upstream'));
    expect(line).toMatch(
      new RegExp(`^INFO gateway\\] Avg prompt throughput: [\\d.]+ tokens/s, Avg generation throughput: [\\d.]+ tokens/s \\(this process\\); upstream ${engine.url.replaceAll('.', '\\.')}: Running: 0 reqs, Swapped: 0 reqs, Pending: 0 reqs, GPU KV cache usage: 0\\.0%, CPU KV cache usage: 0\\.0%$`),
    );
  }, 20_000);
});
