import { shareGptDataset, syntheticDataset, type Prompt } from './dataset.js';
import { serverEstimates, scrape, type ServerEstimate } from './compare.js';
import { gamma, seeded } from './random.js';
import { sendRequest, type RequestResult } from './request.js';
import { distribution, type Distribution } from './stats.js';

export interface BenchmarkOptions {
  baseUrl: string;
  endpoint?: '/v1/completions' | '/v1/chat/completions';
  model: string;
  numPrompts: number;
  /** Requests per second; Infinity sends them all at once. */
  requestRate?: number;
  /** Gamma shape of the gaps between arrivals: 1 is Poisson, below 1 burstier, above 1 steadier. */
  burstiness?: number;
  maxConcurrency?: number;
  /** A ShareGPT-format JSON file; without one, a synthetic set. */
  dataset?: string;
  seed?: number;
  /** A /metrics URL to read before and after, for the server's view of the same run. */
  compareMetrics?: string;
  /** Called after each request, with the number done. */
  onProgress?: (done: number, total: number) => void;
  /** Stops the run early (no new requests; those in flight are cancelled). */
  signal?: AbortSignal;
}

export interface BenchmarkResult {
  completed: number;
  failed: number;
  errors: string[];
  durationS: number;
  totalInputTokens: number;
  totalOutputTokens: number;
  requestThroughput: number;
  outputThroughput: number;
  totalTokenThroughput: number;
  /** ms */
  ttft: Distribution;
  tpot: Distribution;
  itl: Distribution;
  e2e: Distribution;
  server?: Record<'ttft' | 'tpot' | 'itl' | 'e2e', ServerEstimate>;
  requests: RequestResult[];
}

/** Runs the benchmark: arrivals on a seeded schedule, at most maxConcurrency in flight, every result timed. */
export async function runBenchmark(options: BenchmarkOptions): Promise<BenchmarkResult> {
  const random = seeded(options.seed ?? 0);
  const prompts: Iterator<Prompt> = options.dataset ? shareGptDataset(options.dataset, random) : syntheticDataset(random);
  const endpoint = options.endpoint ?? '/v1/completions';
  const url = `${options.baseUrl.replace(/\/+$/, '')}${endpoint}`;
  const chat = endpoint.includes('chat');
  const rate = options.requestRate ?? Infinity;
  const burstiness = options.burstiness ?? 1;
  const limit = options.maxConcurrency ?? Infinity;
  const before = options.compareMetrics ? await scrape(options.compareMetrics) : undefined;

  const results: RequestResult[] = [];
  const inFlight = new Set<Promise<void>>();
  const start = performance.now();
  let done = 0;
  for (let i = 0; i < options.numPrompts; i++) {
    if (options.signal?.aborted) break;
    const prompt = prompts.next().value as Prompt;
    if (Number.isFinite(rate) && rate > 0) {
      await new Promise((resolve) => setTimeout(resolve, gamma(random, burstiness, 1 / (rate * burstiness)) * 1000));
    }
    while (inFlight.size >= limit) await Promise.race(inFlight);
    const task = sendRequest(url, chat, options.model, prompt, options.signal).then((result) => {
      results.push(result);
      options.onProgress?.(++done, options.numPrompts);
      inFlight.delete(task);
    });
    inFlight.add(task);
  }
  await Promise.all(inFlight);
  const durationS = (performance.now() - start) / 1000;

  const ok = results.filter((r) => r.ok);
  const totalInputTokens = ok.reduce((n, r) => n + r.promptTokens, 0);
  const totalOutputTokens = ok.reduce((n, r) => n + r.outputTokens, 0);
  const server = options.compareMetrics ? serverEstimates(before!, await scrape(options.compareMetrics)) : undefined;
  return {
    completed: ok.length,
    failed: results.length - ok.length,
    errors: results.filter((r) => !r.ok).map((r) => r.error ?? 'unknown error'),
    durationS,
    totalInputTokens,
    totalOutputTokens,
    requestThroughput: ok.length / durationS,
    outputThroughput: totalOutputTokens / durationS,
    totalTokenThroughput: (totalInputTokens + totalOutputTokens) / durationS,
    ttft: distribution(ok.map((r) => r.ttft)),
    tpot: distribution(ok.filter((r) => r.outputTokens > 1).map((r) => (r.e2e - r.ttft) / (r.outputTokens - 1))),
    itl: distribution(ok.flatMap((r) => r.itls)),
    e2e: distribution(ok.map((r) => r.e2e)),
    server,
    requests: results,
  };
}
