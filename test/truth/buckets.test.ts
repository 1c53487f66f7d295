import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript
import { startPrometheus } from '../../dashboards/lab.mjs';
// @ts-expect-error: plain JavaScript
import { startGateway } from '../../examples/gateway/gateway.mjs';
import { histogramTotals, quantile, scrape } from '../../packages/loadgen/src/compare.js';
import { systemBinary } from '../helpers/binaries.js';
import { waitUntil } from '../helpers/wait.js';

// Classic buckets end at a last finite bound, and histogram_quantile reads anything past it as that bound.
// Native histograms have no last bound: a request of any length is read back within its bucket's width.
const E2E = 'gen_ai_server_request_duration';
const prometheusBinary = systemBinary('prometheus', 'native histograms read back by a real Prometheus');

interface Gateway {
  url: string;
  llm: { now(): number; startRequest(info: { model: string; at?: number }): { end(options?: { at?: number }): void } };
  close(drainMs?: number): Promise<void>;
}

const SECONDS = { 'fifty-four': 54, 'four-hundred': 400, 'an-hour': 3600 } as const;

describe('the gateway’s native histograms', () => {
  let gateway: Gateway;
  beforeAll(async () => {
    // Routes declare the models: the gateway records only models it serves.
    const routes = Object.fromEntries(Object.keys(SECONDS).map((model) => [model, ['http://127.0.0.1:9']]));
    gateway = await startGateway({ upstreams: ['http://127.0.0.1:9'], routes, port: 0, logIntervalMs: 0, bridgeIntervalMs: 0 });
    // Requests of known lengths, recorded with explicit timestamps on the gateway's own recorder.
    for (const [model, seconds] of Object.entries(SECONDS)) {
      const end = gateway.llm.now();
      gateway.llm.startRequest({ model, at: end - seconds * 1000 }).end({ at: end });
    }
  });
  afterAll(async () => gateway?.close(100));

  it('read over the protobuf format, put each request within 1 % of its length, however long', async () => {
    const exposition = await scrape(`${gateway.url}/metrics`);
    expect(Buffer.isBuffer(exposition)).toBe(true);
    const all = histogramTotals(exposition, E2E);
    expect(all.native).toBeDefined();
    expect(all.count).toBe(3);
    // One request of each length: its median is itself, to a bucket's width at the scale the spread allows.
    expect(quantile(all, 0.01) / 54 - 1).toBeLessThan(0.01);
    expect(Math.abs(quantile(all, 0.5) / 400 - 1)).toBeLessThan(0.01);
    expect(Math.abs(quantile(all, 0.99) / 3600 - 1)).toBeLessThan(0.01);
  });

  describe.skipIf(prometheusBinary === undefined)('read back by a real Prometheus with native histograms on', () => {
    let prom: { query: (expr: string) => Promise<{ value: [number, string] }[]>; child: { kill: () => void; once: (e: string, f: () => void) => void }; remove: () => void };
    beforeAll(async () => {
      prom = await startPrometheus({ gateway: [gateway.url.replace('http://', '')] }, { prometheusBinary, nativeHistograms: true });
      await waitUntil(async () => (await prom.query(`histogram_count(${E2E}{gen_ai_request_model="an-hour"})`)).length > 0, { what: 'Prometheus scraping the gateway', timeoutMs: 20_000, intervalMs: 250 });
    }, 30_000);
    afterAll(async () => {
      if (prom === undefined) return;
      const exited = new Promise<void>((resolve) => prom.child.once('exit', resolve));
      prom.child.kill();
      await exited;
      prom.remove();
    });

    it.each(Object.entries(SECONDS))('reads a request of %s back as its length, within its bucket', async (model, seconds) => {
      const [count] = await prom.query(`histogram_count(${E2E}{gen_ai_request_model="${model}"})`);
      expect(Number(count.value[1])).toBe(1);
      const [sum] = await prom.query(`histogram_sum(${E2E}{gen_ai_request_model="${model}"})`);
      expect(Number(sum.value[1])).toBeCloseTo(seconds, 6);
      for (const q of [0.5, 0.99]) {
        const [s] = await prom.query(`histogram_quantile(${q}, ${E2E}{gen_ai_request_model="${model}"})`);
        // The one request's bucket holds `seconds`: at scale 8 it is 0.27 % wide.
        expect(Math.abs(Number(s.value[1]) / seconds - 1)).toBeLessThan(0.003);
      }
    });
  });
});
