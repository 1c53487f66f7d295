import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript
import { startPrometheus } from '../../dashboards/lab.mjs';
import { seeded } from '../../packages/loadgen/src/random.js';
import { percentile } from '../../packages/loadgen/src/stats.js';
import { systemBinary } from '../helpers/binaries.js';
import { startEngine, startProcess, type Started } from '../helpers/processes.js';
import { sleep, waitUntil } from '../helpers/wait.js';
import { timedCompletion, type Timed } from './independent-client.js';

// The figures operators alert on, as a real Prometheus (2.42, native histograms on) reads them from the
// gateway's and the engine's native histograms, against a client that times every token itself (plain
// node:http): each quantile is held to 2 % of the client's exact one, and each count to the client's count.
// Half the requests go through the gateway to its engine, half straight to a second engine (model name
// sim-direct): that engine is held to the client that talked to it, since a proxy between them gathers
// tokens that arrive together into one read, and the client would time the proxy's reads. Clocks start when
// the connection is open (no server sees the handshake). The engine can see nothing before its handler
// runs, and it sends its response headers there, before queueing: its client's TTFT and E2E run from those
// headers, which leaves out what the engine's busy loop took to accept the request (a wait it exports as
// its event-loop delay).
const prometheusBinary = systemBinary('prometheus', 'native histograms against an independent client in a real Prometheus');
const REQUESTS = 200;
const DIRECT = 'sim-direct';
const RATE = 14;
const QUANTILES = [0.5, 0.9, 0.99];
const BOUND = 0.02;
const FIGURES = {
  ttft: 'gen_ai_server_time_to_first_token',
  e2e: 'gen_ai_server_request_duration',
  itl: 'inferwatch_request_inter_token_latency',
  tpot: 'gen_ai_server_time_per_output_token',
} as const;
type Figure = keyof typeof FIGURES;

/** The client's exact values of a figure, in ms; `fromHeaders`: TTFT and E2E from the response's headers. */
function clientValues(client: Timed[], figure: Figure, fromHeaders = false): number[] {
  const since = (t: Timed) => (fromHeaders ? t.headers : 0);
  if (figure === 'ttft') return client.map((t) => t.ttft - since(t));
  if (figure === 'e2e') return client.map((t) => t.e2e - since(t));
  if (figure === 'itl') return client.flatMap((t) => t.itls);
  return client.filter((t) => t.tokens > 1).map((t) => (t.e2e - t.ttft) / (t.tokens - 1));
}

describe.skipIf(prometheusBinary === undefined)('native histograms in a real Prometheus against an independent client', () => {
  const started: Started[] = [];
  let prom: { query: (expr: string) => Promise<{ metric: Record<string, string>; value: [number, string] }[]>; child: { kill: () => void; once: (e: string, f: () => void) => void }; remove: () => void };
  let client: Timed[] = [];
  let direct: Timed[] = [];
  const ratios: Record<string, number> = {};
  const value = async (expr: string) => Number((await prom.query(expr))[0]?.value[1]);

  beforeAll(async () => {
    // Decode steps of 20 ms and more, prompts of 50 to 1000 tokens at 0.25 ms each, outputs of 8 to 64 tokens:
    // TTFT, E2E and ITL spread over a range where a millisecond of transport is well inside 2 %.
    const engineArgs = ['--decode-base-ms', '20', '--decode-ms-per-seq', '1', '--prefill-ms-per-token', '0.25', '--num-gpu-blocks', '4096'];
    const [behind, engine] = await Promise.all([startEngine(engineArgs), startEngine(engineArgs)]);
    started.push(behind, engine);
    const gateway = await startProcess('test/truth/gateway-process.mjs', ['--upstream', behind.url], 'test gateway on');
    started.push(gateway);
    prom = await startPrometheus({ gateway: [gateway.url.replace('http://', '')], engine: [engine.url.replace('http://', '')] }, { prometheusBinary, nativeHistograms: true });
    const random = seeded(23);
    const pending: Promise<Timed>[] = [];
    const straight: Promise<Timed>[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const prompt = 'tok '.repeat(Math.round(50 * 20 ** random())).trim();
      const maxTokens = 8 + Math.floor(random() * 57);
      if (i % 2 === 0) pending.push(timedCompletion(gateway.url, { model: 'sim-llama-8b', prompt, max_tokens: maxTokens }, 0, true));
      else straight.push(timedCompletion(engine.url, { model: DIRECT, prompt, max_tokens: maxTokens }, 0, true));
      await sleep((-Math.log(1 - random()) / RATE) * 1000);
    }
    client = await Promise.all(pending);
    direct = await Promise.all(straight);
    // Until both targets were scraped after the last request ended.
    const count = `histogram_count(sum(${FIGURES.e2e}{job="%s"}))`;
    await waitUntil(async () => (await value(count.replace('%s', 'gateway'))) === client.length && (await value(count.replace('%s', 'engine'))) === direct.length, {
      what: `Prometheus to hold all ${REQUESTS} requests from both targets`,
      timeoutMs: 20_000,
      intervalMs: 250,
    });
  }, 120_000);

  afterAll(async () => {
    if (prom !== undefined) {
      const exited = new Promise<void>((resolve) => prom.child.once('exit', resolve));
      prom.child.kill();
      await exited;
      prom.remove();
    }
    for (const s of started.reverse()) await s.stop();
    if (Object.keys(ratios).length > 0 && process.env.INFERWATCH_TRUTH_OUT) writeFileSync(process.env.INFERWATCH_TRUTH_OUT, `${JSON.stringify(ratios, null, 2)}\n`);
  });

  /** histogram_quantile over the whole run: the histograms started with the processes, so the cumulative one is the run. */
  const serverQuantile = (job: string, model: string, figure: Figure, q: number) =>
    value(`histogram_quantile(${q}, sum(${FIGURES[figure]}{job="${job}",gen_ai_request_model="${model}",error_type=""}))`);
  /** Which target and series each client's requests were recorded in. */
  const sides = () => [
    { job: 'gateway', model: 'sim-llama-8b', timed: client },
    { job: 'engine', model: DIRECT, timed: direct },
  ];

  it('counts every request exactly: histogram_count on both targets equals the clients’ completed requests', async () => {
    expect([...client, ...direct].every((t) => t.ok)).toBe(true);
    for (const { job, model, timed } of sides()) {
      const count = (figure: Figure) => value(`histogram_count(sum(${FIGURES[figure]}{job="${job}",gen_ai_request_model="${model}",error_type=""}))`);
      expect(await count('ttft'), `${job} ${model}`).toBe(timed.length);
      expect(await count('e2e'), `${job} ${model}`).toBe(timed.length);
      expect(await count('tpot'), `${job} ${model}`).toBe(timed.filter((t) => t.tokens > 1).length);
      expect(await count('itl'), `${job} ${model}`).toBe(timed.reduce((n, t) => n + t.tokens - 1, 0));
    }
  });

  const cases = (['gateway', 'engine'] as const).flatMap((job) => (Object.keys(FIGURES) as Figure[]).map((figure) => ({ job, figure })));
  it.each(cases)('$job $figure: p50, p90 and p99 within 2 % of its client’s exact ones', async ({ job, figure }) => {
    const [model, timed] = job === 'gateway' ? ['sim-llama-8b', client] : [DIRECT, direct];
    const values = clientValues(timed, figure, job === 'engine');
    for (const q of QUANTILES) {
      const exact = percentile(values, q * 100);
      const server = (await serverQuantile(job, model, figure, q)) * 1000;
      ratios[`${job}_${figure}_p${q * 100}`] = Number((server / exact).toFixed(4));
      console.log(`${job} ${figure} p${q * 100}: server ${server.toFixed(2)} ms / client ${exact.toFixed(2)} ms = ${(server / exact).toFixed(4)}`);
      expect(Math.abs(server / exact - 1), `p${q * 100}`).toBeLessThanOrEqual(BOUND);
    }
  });

  it('is one series per histogram per model: a tenth or less of the classic buckets’ series', async () => {
    // Every series the gateway exports for the model, as Prometheus stored them.
    const series = await prom.query(`count({job="gateway",gen_ai_request_model="sim-llama-8b"})`);
    const count = Number(series[0].value[1]);
    console.log(`series per model on the gateway: ${count}`);
    ratios.series_per_model_gateway = count;
    expect(count).toBeLessThanOrEqual(40);
  });
});
