// 50 models × 2 operations × the full catalog: every metric and label combination populated.
import { createLlmMetrics } from '@inferwatch/sdk';

export function fiftyModels() {
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
  return llm;
}
