import { afterAll, describe, expect, it } from 'vitest';
import { createLlmMetrics, startMetrics, type RunningMetrics } from '@inferwatch/sdk';
import { scrape } from '../../packages/loadgen/src/compare.js';
import { serve } from '../helpers/net.js';
import { decodeExposition, nativeBuckets } from '../../packages/loadgen/src/protobuf.js';

const E2E = 'gen_ai_server_request_duration';

describe('native buckets over the protobuf format', () => {
  let running: RunningMetrics | undefined;
  let closeServer: (() => Promise<void>) | undefined;
  afterAll(async () => {
    await closeServer?.();
    await running?.shutdown();
  });

  it('arrive as recorded whatever the gaps between populated buckets, short gaps sent as zeros inside a span', async () => {
    let now = 1_000_000;
    const llm = createLlmMetrics({ log: false, clock: () => now, histograms: 'native' });
    // Populated buckets at scale 8 with gaps of 0 to 9 empty buckets between them, and counts that rise and fall
    // (negative deltas); the middle of bucket i is 2^((i + 0.5) / 256) seconds.
    const expected = new Map<number, number>();
    let index = 100;
    for (let gap = 0; gap <= 9; gap++) {
      const count = 1 + ((gap * 7) % 5);
      expected.set(index, count);
      index += gap + 1;
    }
    expected.set(index, 3);
    for (const [i, count] of expected) {
      const seconds = 2 ** ((i + 0.5) / 256);
      for (let n = 0; n < count; n++) {
        const r = llm.startRequest({ model: 'm', at: now });
        now += seconds * 1000;
        r.end({ at: now });
      }
    }
    running = startMetrics({ llm, prometheus: {}, otlp: false, meterProvider: false });
    const server = await serve(running.metricsHandler);
    closeServer = server.close;
    const body = await scrape(`${server.url}/metrics`);
    expect(Buffer.isBuffer(body)).toBe(true);
    const family = decodeExposition(body as Buffer).find((f) => f.name === E2E);
    const native = family?.metrics[0]?.histogram?.native;
    expect(native).toBeDefined();
    const buckets = nativeBuckets(native!);
    expect(buckets.scale).toBe(8);
    const got = new Map<number, number>();
    Array.from(buckets.counts).forEach((c, k) => c > 0 && got.set(buckets.offset + k, c));
    expect(got).toEqual(expected);
    // Gaps of 6 or more empty buckets (6, 7, 8, 9 here) open a new span; shorter ones stay inside one.
    expect(native!.spans.length).toBe(5);
    expect(native!.deltas.length).toBe(native!.spans.reduce((n, s) => n + s.length, 0));
  });
});
