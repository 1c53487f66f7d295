// A fake LLM server driven by timers: each request waits in a queue, prefills, streams tokens and
// ends, and every step goes through the SDK. Serves /metrics on port 8000 (PORT to change it).
import { createServer } from 'node:http';
import { createLlmMetrics, startMetrics } from '@inferwatch/sdk';

const port = Number(process.env.PORT ?? 8000);
const llm = createLlmMetrics({ provider: 'synthetic', log: true });
// gpu: true polls nvidia-smi; without one it says so once and carries on.
const telemetry = startMetrics({ serviceName: 'inferwatch-synthetic-demo', llm, gpu: true });
const server = createServer((req, res) => {
  if (req.url === '/metrics') return telemetry.metricsHandler(req, res);
  res.writeHead(404).end();
});

const models = ['llama-3.1-8b-instruct', 'qwen2.5-7b-instruct'];
const maxRunning = 8;
let running = 0;
/** @typedef {{ request: import('@inferwatch/sdk').RequestHandle, outputTokens: number }} Queued */
/** @type {Queued[]} */
const queue = [];

function arrive() {
  const request = llm.startRequest({ model: models[Math.floor(Math.random() * models.length)], promptTokens: 50 + Math.floor(Math.random() * 500) });
  queue.push({ request, outputTokens: 20 + Math.floor(Math.random() * 200) });
  schedule();
}

function schedule() {
  while (running < maxRunning && queue.length > 0) {
    const { request, outputTokens } = /** @type {Queued} */ (queue.shift()); // not empty: checked above
    running++;
    request.scheduled();
    let produced = 0;
    const step = () => {
      if (produced === 0) request.firstToken();
      else request.tokens(1);
      produced++;
      if (produced < outputTokens) return setTimeout(step, 15 + running * 2);
      request.end({ finishReason: produced >= 200 ? 'length' : 'stop' });
      running--;
      schedule();
    };
    setTimeout(step, 40 + Math.random() * 80);
  }
  llm.reportEngineState({ gpuKvCacheUsage: Math.min(1, running / maxRunning), cpuKvCacheUsage: 0 });
}

// Poisson arrivals at about 4 requests per second.
const arrivals = () => setTimeout(() => (arrive(), arrivals()), -Math.log(1 - Math.random()) * 250);

server.listen(port, () => {
  console.log(`inferwatch synthetic demo: metrics on http://localhost:${port}/metrics, a summary line every 10 s; Ctrl-C stops`);
  arrivals();
});

const stop = async () => {
  server.close();
  await telemetry.shutdown();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
