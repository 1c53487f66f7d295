// Run with --expose-gc: heap after 1 M finished requests vs after 10 k, to show nothing accumulates per request.
import { createLlmMetrics } from '@inferwatch/sdk';

const llm = createLlmMetrics({ log: false });
const models = ['a', 'b', 'c', 'd'];
function run(count) {
  for (let i = 0; i < count; i++) {
    const r = llm.startRequest({ model: models[i & 3], promptTokens: 20 });
    r.scheduled();
    r.firstToken();
    r.tokens(5);
    r.end();
  }
}
function heapAfterGc() {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
}
run(10_000);
await llm.producer.collect();
const after10k = heapAfterGc();
run(990_000);
await llm.producer.collect();
const after1m = heapAfterGc();
console.log(JSON.stringify({ heap_after_10k_bytes: after10k, heap_after_1m_bytes: after1m }));
