// Per-chunk cost of the OpenAI-style SSE tap: vLLM-shaped chat chunks, one event per network chunk,
// as bytes, the token recorded on a live request handle. Every stream ends as engines end them (a
// finish_reason chunk, then [DONE]), and the benchmark checks that each ended as a success.
import { createLlmMetrics } from '@inferwatch/sdk';
import { tapResponse } from '@inferwatch/sdk/internal';
import { finishedByReason } from './collect.mjs';
import { compare, round } from './measure.mjs';

const STREAM_CHUNKS = 1000;
const encode = (s) => new TextEncoder().encode(s);

export async function sseBench() {
  const llm = createLlmMetrics({ log: false });
  const event = (i) =>
    `data: {"id":"chatcmpl-8f1c2a","object":"chat.completion.chunk","created":1764370000,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"delta":{"content":" token${i % 10}"},"logprobs":null,"finish_reason":null}]}\n\n`;
  const chunks = Array.from({ length: 64 }, (_, i) => encode(event(i)));
  const finish = encode('data: {"id":"chatcmpl-8f1c2a","object":"chat.completion.chunk","created":1764370000,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}\n\n');
  const done = encode('data: [DONE]\n\n');
  let streams = 0;
  let tap = tapResponse(llm.startRequest({ model: 'm' }), { format: 'sse' });
  const perChunk = compare({
    sse_tap: [
      (i) => {
        // A stream ends every STREAM_CHUNKS chunks, with its last two chunks, and the next begins.
        if (i % STREAM_CHUNKS === STREAM_CHUNKS - 1) {
          tap.write(finish);
          tap.write(done);
          tap.finish();
          streams++;
          tap = tapResponse(llm.startRequest({ model: 'm' }), { format: 'sse' });
        }
        tap.write(chunks[i & 63]);
      },
      200_000,
    ],
  });
  tap.write(finish);
  tap.write(done);
  tap.finish();
  streams++;
  const finished = await finishedByReason(llm, 'inferwatch.requests.finished');
  if (finished.stop !== streams || Object.keys(finished).some((reason) => reason !== 'stop' && finished[reason] > 0)) {
    throw new Error(`SSE benchmark streams did not all end normally: ${JSON.stringify(finished)} of ${streams}`);
  }
  return { sse_tap_ns_per_chunk: round(perChunk.sse_tap), sse_streams_finished_stop: streams };
}
