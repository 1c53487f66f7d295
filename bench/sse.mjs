// Per-chunk cost of the OpenAI-style SSE tap: vLLM-shaped chat chunks, one event per network chunk,
// as bytes, the token recorded on a live request handle.
import { createLlmMetrics, tapResponse } from '@inferwatch/sdk';
import { compare, round } from './measure.mjs';

export async function sseBench() {
  const llm = createLlmMetrics({ log: false });
  const event = (i) =>
    `data: {"id":"chatcmpl-8f1c2a","object":"chat.completion.chunk","created":1764370000,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"delta":{"content":" token${i % 10}"},"logprobs":null,"finish_reason":null}]}\n\n`;
  const chunks = Array.from({ length: 64 }, (_, i) => new TextEncoder().encode(event(i)));
  let tap = tapResponse(llm.startRequest({ model: 'm' }), { format: 'sse' });
  const perChunk = compare({
    sse_tap: [
      (i) => {
        // A fresh request every 1000 chunks, as streams end and begin.
        if (i % 1000 === 999) {
          tap.finish();
          tap = tapResponse(llm.startRequest({ model: 'm' }), { format: 'sse' });
        }
        tap.write(chunks[i & 63]);
      },
      200_000,
    ],
  });
  return { sse_tap_ns_per_chunk: round(perChunk.sse_tap) };
}
