import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript
import { startPrometheus } from '../../dashboards/lab.mjs';
// @ts-expect-error: plain JavaScript
import { startGateway } from '../../examples/gateway/gateway.mjs';
import { histogramTotals, quantile } from '../../packages/loadgen/src/compare.js';
import { systemBinary } from '../helpers/binaries.js';
import { waitUntil } from '../helpers/wait.js';

const E2E = 'gen_ai_server_request_duration';
const FINE = ['gen_ai_server_request_duration', 'gen_ai_server_time_to_first_token', 'gen_ai_server_time_per_output_token', 'inferwatch_request_inter_token_latency'];
const prometheusBinary = systemBinary('prometheus', 'histogram_quantile past the gateway’s last bucket, in a real Prometheus');

interface Gateway {
  url: string;
  llm: { now(): number; startRequest(info: { model: string; at?: number }): { end(options?: { at?: number }): void } };
  close(drainMs?: number): Promise<void>;
}

/** The finite bucket bounds of one histogram family in an exposition, ascending. */
const bounds = (text: string, metric: string) =>
  [...new Set([...text.matchAll(new RegExp(`^${metric}_bucket\\{.*le="([^"+]+)"\\}`, 'gm'))].map((m) => Number(m[1])))].sort((a, b) => a - b);

describe('the gateway’s fine buckets', () => {
  let gateway: Gateway;
  let exposition: string;
  beforeAll(async () => {
    // Routes declare the two models: the gateway records only models it serves.
    gateway = await startGateway({ upstreams: ['http://127.0.0.1:9'], routes: { 'fifty-four': ['http://127.0.0.1:9'], 'four-hundred': ['http://127.0.0.1:9'] }, port: 0, logIntervalMs: 0, bridgeIntervalMs: 0 });
    // Requests of 54 s and 400 s, recorded with explicit timestamps on the gateway's own recorder.
    for (const [model, seconds] of [['fifty-four', 54], ['four-hundred', 400]] as const) {
      const end = gateway.llm.now();
      gateway.llm.startRequest({ model, at: end - seconds * 1000 }).end({ at: end });
    }
    exposition = await (await fetch(`${gateway.url}/metrics`)).text();
  });
  afterAll(async () => gateway?.close(100));

  it('reach 300 s and more, in steps of about 20 %, as docs/metrics.md says', () => {
    for (const metric of FINE) {
      const b = bounds(exposition, metric);
      expect(b[0], metric).toBe(0.001);
      expect(b.at(-1), metric).toBeGreaterThanOrEqual(300);
      for (let i = 1; i < b.length; i++) expect(b[i] / b[i - 1]).toBeCloseTo(1.2, 1);
    }
    const last = bounds(exposition, E2E).at(-1);
    expect(readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8')).toContain(`1 ms to ${last} s`);
  });

  describe.skipIf(prometheusBinary === undefined)('read back by a real Prometheus', () => {
    let prom: { query: (expr: string) => Promise<{ value: [number, string] }[]>; child: { kill: () => void; once: (e: string, f: () => void) => void }; remove: () => void };
    beforeAll(async () => {
      prom = await startPrometheus({ gateway: [gateway.url.replace('http://', '')] }, { prometheusBinary });
      await waitUntil(async () => (await prom.query(`${E2E}_count{gen_ai_request_model="four-hundred"}`)).length > 0, { what: 'Prometheus to scrape the gateway', timeoutMs: 20_000, intervalMs: 250 });
    }, 30_000);
    afterAll(async () => {
      if (prom === undefined) return;
      const exited = new Promise<void>((resolve) => prom.child.once('exit', resolve));
      prom.child.kill();
      await exited;
      prom.remove();
    });

    const quantileOf = async (model: string, q: number) => {
      const [s] = await prom.query(`histogram_quantile(${q}, sum by (le) (${E2E}_bucket{gen_ai_request_model="${model}"}))`);
      return Number(s.value[1]);
    };
    const modelOnly = (model: string) => exposition.split('\n').filter((l) => !l.startsWith(`${E2E}_`) || l.includes(`gen_ai_request_model="${model}"`)).join('\n');

    it('puts a 54 s request in the bucket that holds 54 s, not at the last bound', async () => {
      const b = bounds(exposition, E2E);
      const upper = b.find((v) => v >= 54)!;
      const lower = b[b.indexOf(upper) - 1];
      for (const q of [0.5, 0.99]) {
        const value = await quantileOf('fifty-four', q);
        expect(value).toBeGreaterThan(lower);
        expect(value).toBeLessThanOrEqual(upper);
        // histogram_quantile's rule: linear inside the bucket holding the rank.
        expect(value).toBeCloseTo(lower + (upper - lower) * q, 9);
        expect(value).toBeCloseTo(quantile(histogramTotals(modelOnly('fifty-four'), E2E), q), 9);
      }
    });

    it('reads a request past the last finite bound as that bound, at every quantile', async () => {
      const last = bounds(exposition, E2E).at(-1)!;
      for (const q of [0.5, 0.9, 0.99]) {
        expect(await quantileOf('four-hundred', q)).toBe(last);
        expect(quantile(histogramTotals(modelOnly('four-hundred'), E2E), q)).toBe(last);
      }
    });
  });
});
