// Time to serve /metrics over HTTP with 50 models, every metric and label combination populated.
import { createServer } from 'node:http';
import { createLlmMetrics, startMetrics } from '@inferwatch/sdk';
import { median, round } from './measure.mjs';

export async function scrapeBench() {
  const llm = createLlmMetrics({ log: false, provider: 'vllm' });
  for (let m = 0; m < 50; m++) {
    for (const operation of ['chat', 'text_completion']) {
      const model = `model-${m}`;
      const ok = llm.startRequest({ model, operation, promptTokens: 100 });
      ok.scheduled();
      ok.firstToken();
      ok.tokens(10);
      ok.preempted();
      ok.resumed();
      ok.end({ finishReason: 'length' });
      llm.startRequest({ model, operation }).fail(new Error('x'));
      llm.startRequest({ model, operation }).abort();
      llm.startRequest({ model, operation }).scheduled();
    }
  }
  llm.reportEngineState({ gpuKvCacheUsage: 0.5, cpuKvCacheUsage: 0.1 });
  const telemetry = startMetrics({ llm, registerGlobal: false });
  const server = createServer(telemetry.metricsHandler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/metrics`;
  const times = [];
  let lines = 0;
  for (let i = 0; i < 40; i++) {
    const start = performance.now();
    const text = await (await fetch(url)).text();
    times.push(performance.now() - start);
    lines = text.split('\n').length;
  }
  server.close();
  await telemetry.shutdown();
  return { scrape_ms_50_models: round(median(times.slice(5)), 2), scrape_lines_50_models: lines };
}
