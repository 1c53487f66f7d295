import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { delta, histogramTotals, quantile } from '../../packages/loadgen/src/compare.js';
import { seeded } from '../../packages/loadgen/src/random.js';
import { percentile } from '../../packages/loadgen/src/stats.js';
import { sample, startEngine, startProcess, type Started } from '../helpers/processes.js';
import { timedCompletion, type Timed } from './independent-client.js';

// The gateway's TTFT against a client that times itself (plain node:http, not the load generator), at
// 5 req/s. Prompts from 100 to 2000 tokens (log-uniform, seeded) spread TTFT over 25–500 ms of prefill (plus queueing),
// so a few milliseconds of transport stay well inside 10 %. Server quantiles come from the gateway's
// own fine buckets, estimated as histogram_quantile does.
const RATE = 5;
const TTFT = 'gen_ai_server_time_to_first_token';
const QUANTILES = [0.5, 0.9, 0.99];
const BUSY_MS = 100;

interface Run {
  client: Timed[];
  server: Record<number, number>;
  delayMax?: number;
}

async function run(gateway: Started, count: number, seed: number, trickleMs = 0): Promise<Run> {
  const random = seeded(seed);
  const before = await (await fetch(`${gateway.url}/metrics`)).text();
  const pending: Promise<Timed>[] = [];
  for (let i = 0; i < count; i++) {
    const promptTokens = Math.round(100 * 20 ** random());
    pending.push(timedCompletion(gateway.url, { model: 'sim-llama-8b', prompt: 'tok '.repeat(promptTokens).trim(), max_tokens: 4 }, trickleMs));
    await new Promise((resolve) => setTimeout(resolve, (-Math.log(1 - random()) / RATE) * 1000));
  }
  const client = await Promise.all(pending);
  const after = await (await fetch(`${gateway.url}/metrics`)).text();
  const histogram = delta(histogramTotals(after, TTFT), histogramTotals(before, TTFT));
  expect(histogram.count).toBe(count);
  return {
    client,
    server: Object.fromEntries(QUANTILES.map((q) => [q, quantile(histogram, q) * 1000])),
    delayMax: sample(after, 'nodejs_eventloop_delay_max'),
  };
}

/** Server ÷ client at each quantile, printed for the record. */
function ratios(label: string, r: Run): Record<number, number> {
  expect(r.client.every((t) => t.ok && t.tokens === 4)).toBe(true);
  const client = r.client.map((t) => t.ttft);
  const out = Object.fromEntries(QUANTILES.map((q) => [q, r.server[q] / percentile(client, q * 100)]));
  console.log(
    `TTFT ${label}: ` +
      QUANTILES.map((q) => `p${q * 100} server ${r.server[q].toFixed(1)} ms / client ${percentile(client, q * 100).toFixed(1)} ms = ${out[q].toFixed(3)}`).join(', ') +
      `; gateway event-loop delay max ${((r.delayMax ?? NaN) * 1000).toFixed(1)} ms`,
  );
  return out;
}

describe('gateway TTFT against an independent client at 5 req/s', () => {
  // Three gateways, each in front of its own engine, loaded at the same time (5 req/s each, light work
  // for two cores): the quiet one, the one whose clients trickle their bodies, and the busy one.
  const started: Started[] = [];
  const runs: Record<'quiet' | 'trickle' | 'busy', Promise<Run>> = {} as never;
  beforeAll(async () => {
    // The busy gateway fronts a faster engine (TTFT of a few tens of ms), where 100 ms blocks weigh.
    const slow = ['--prefill-ms-per-token', '0.25', '--num-gpu-blocks', '2048', '--decode-base-ms', '5'];
    const engines = await Promise.all([startEngine(slow), startEngine(slow), startEngine(['--prefill-ms-per-token', '0.03', '--num-gpu-blocks', '2048', '--decode-base-ms', '5'])]);
    started.push(...engines);
    const gateway = (upstream: string, args: string[]) => startProcess('test/truth/gateway-process.mjs', ['--upstream', upstream, ...args], 'test gateway on');
    const [quiet, trickle, busy] = await Promise.all([
      gateway(engines[0].url, []),
      gateway(engines[1].url, []),
      gateway(engines[2].url, ['--busy-ms', String(BUSY_MS), '--busy-every-ms', '500']),
    ]);
    started.push(quiet, trickle, busy);
    runs.quiet = run(quiet, 150, 11);
    runs.trickle = run(trickle, 150, 12, 200);
    runs.busy = run(busy, 150, 13);
    // Each test awaits its own run; a run that fails before its test is reached is not an unhandled rejection.
    for (const r of Object.values(runs)) r.catch(() => undefined);
  }, 30_000);
  afterAll(async () => {
    await Promise.all(started.slice(3).map((s) => s.stop()));
    await Promise.all(started.slice(0, 3).map((s) => s.stop()));
  });

  it('holds p50 and p99 within 10 % of the client’s', async () => {
    const r = ratios('quiet', await runs.quiet);
    for (const q of [0.5, 0.99]) expect(Math.abs(r[q] - 1), `p${q * 100}`).toBeLessThanOrEqual(0.1);
  }, 120_000);

  it('holds a slow-body client’s TTFT within 10 % too: the body read is inside the gateway’s window', async () => {
    const r = ratios('body trickled over 200 ms', await runs.trickle);
    for (const q of [0.5, 0.9]) expect(Math.abs(r[q] - 1), `p${q * 100}`).toBeLessThanOrEqual(0.1);
  }, 120_000);

  it('runs low at the tail when the loop is busy, by no more than the event-loop delay it now exports', async () => {
    const result = await runs.busy;
    const r = ratios(`loop busy ${BUSY_MS} ms every 500 ms`, result);
    const client = result.client.map((t) => t.ttft);
    // Requests that arrive during a block wait, unseen by the gateway's timer, before the handler runs...
    // (Quiet, in front of the same engine, p50 came out at 0.94 on this machine; busy, at 0.62–0.73.)
    expect(r[0.5], 'p50').toBeLessThan(0.85);
    const gap = percentile(client, 99) - result.server[0.99];
    // ...and /metrics now shows that wait: the loop's delay covers what the tail misses.
    expect(result.delayMax! * 1000).toBeGreaterThanOrEqual(BUSY_MS - 5);
    expect(gap).toBeLessThanOrEqual(result.delayMax! * 1000 + 0.1 * percentile(client, 99));
  }, 120_000);
});
