// Cost of recording: inferwatch vs plain OTel instruments vs prom-client, same metrics, same run.
import { createLlmMetrics } from '@inferwatch/sdk';
import { otelLifecycle, promClientLifecycle } from './baselines.mjs';
import { compare, round } from './measure.mjs';

const MODELS = ['llama-3.1-8b', 'qwen2.5-7b', 'mistral-7b', 'gemma-2-9b'];

export async function lifecycleBench() {
  const llm = createLlmMetrics({ log: false, provider: 'vllm' });
  const otel = otelLifecycle();
  const prom = promClientLifecycle();

  const perRequest = compare(
    {
      sdk: [
        (i) => {
          const r = llm.startRequest({ model: MODELS[i & 3], promptTokens: 16 });
          r.scheduled();
          r.firstToken();
          r.end();
        },
        200_000,
      ],
      otel: [
        (i) => {
          const r = otel.start(MODELS[i & 3]);
          otel.scheduled(r);
          otel.firstToken(r);
          otel.end(r);
        },
        5_000,
      ],
      promclient: [
        (i) => {
          const r = prom.start(MODELS[i & 3]);
          prom.scheduled(r);
          prom.firstToken(r);
          prom.end(r);
        },
        10_000,
      ],
      clock: [() => performance.now(), 1_000_000],
    },
  );

  const sdkReq = llm.startRequest({ model: MODELS[0] });
  sdkReq.firstToken();
  const batchedReq = llm.startRequest({ model: MODELS[1] });
  batchedReq.firstToken();
  const otelReq = otel.start(MODELS[0]);
  otel.firstToken(otelReq);
  const promReq = prom.start(MODELS[0]);
  prom.firstToken(promReq);
  let stepAt = llm.now();
  const perToken = compare(
    {
      sdk: [() => sdkReq.tokens(), 2_000_000],
      // An engine stamping a whole decode step once and passing it to every sequence in the batch.
      sdk_batched: [
        (i) => {
          if ((i & 63) === 0) stepAt = llm.now();
          batchedReq.tokens(1, stepAt);
        },
        2_000_000,
      ],
      otel: [() => otel.token(otelReq), 20_000],
      promclient: [() => prom.token(promReq), 50_000],
    },
  );
  await otel.provider.shutdown();

  return {
    sdk_ns_per_request: round(perRequest.sdk),
    otel_ns_per_request: round(perRequest.otel),
    promclient_ns_per_request: round(perRequest.promclient),
    sdk_ns_per_token: round(perToken.sdk),
    sdk_ns_per_token_batched: round(perToken.sdk_batched),
    otel_ns_per_token: round(perToken.otel),
    promclient_ns_per_token: round(perToken.promclient),
    clock_ns_per_read: round(perRequest.clock),
  };
}
