import { createLlmMetrics, tapResponse } from '@inferwatch/sdk';
const llm = createLlmMetrics({ log: false });
const event = (i) => `data: {"id":"chatcmpl-8f1c2a","object":"chat.completion.chunk","created":1764370000,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"delta":{"content":" token${i % 10}"},"logprobs":null,"finish_reason":null}]}\n\n`;
const chunks = Array.from({ length: 64 }, (_, i) => new TextEncoder().encode(event(i)));
let tap = tapResponse(llm.startRequest({ model: 'm' }), { format: 'sse' });
function run(n) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    if (i % 1000 === 999) { tap.finish(); tap = tapResponse(llm.startRequest({ model: 'm' }), { format: 'sse' }); }
    tap.write(chunks[i & 63]);
  }
  return Number(process.hrtime.bigint() - t0) / n;
}
const r = [];
for (let k = 0; k < 15; k++) r.push(run(200000));
r.sort((a, b) => a - b);
console.log('min', r[0].toFixed(0), 'med', r[7].toFixed(0));
const c = []; const t0 = process.hrtime.bigint(); for (let i = 0; i < 1e6; i++) performance.now(); console.log('clock', Number(process.hrtime.bigint() - t0) / 1e6);
