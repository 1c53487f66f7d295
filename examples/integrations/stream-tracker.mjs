// Any token stream (async iterable, web ReadableStream or Node Readable): trackStream records it.
import { createLlmMetrics, trackStream } from '@inferwatch/sdk';

const llm = createLlmMetrics({ log: { intervalMs: 1000 } });

async function* generate() {
  for (const token of ['The', ' sky', ' is', ' blue', '.']) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    yield token;
  }
}

const request = llm.startRequest({ model: 'my-local-model', promptTokens: 12 });
request.scheduled();
for await (const token of trackStream(request, generate())) process.stdout.write(token);
process.stdout.write('\n');

const { resourceMetrics } = await llm.producer.collect();
const ttft = resourceMetrics.scopeMetrics[0].metrics.find((m) => m.descriptor.name === 'gen_ai.server.time_to_first_token');
// A histogram: its point holds the sum of the times recorded (one here).
const value = ttft?.dataPoints[0]?.value;
if (typeof value !== 'object' || value.sum === undefined) throw new Error('no time to first token was recorded');
console.log(`time to first token: ${(value.sum * 1000).toFixed(0)} ms`);
llm.shutdown();
