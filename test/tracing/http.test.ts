import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanKind } from '@opentelemetry/api';
import { AlwaysOnSampler, BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createLlmMetrics } from '@inferwatch/sdk';
import { APPS } from '../http/apps.js';
import { scriptedUpstream } from '../helpers/upstream.js';
import { waitUntil } from '../helpers/wait.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

let upstream: Awaited<ReturnType<typeof scriptedUpstream>>;
beforeAll(async () => {
  upstream = await scriptedUpstream();
});
afterAll(() => upstream.close());

describe.each(Object.keys(APPS))('%s wrapper', (name) => {
  it("continues the caller's traceparent in its SERVER span", async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const llm = createLlmMetrics({ log: false, tracerProvider: provider });
    const app = await APPS[name](llm, upstream.url);
    try {
      const res = await fetch(`${app.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01`, tracestate: 'vendor=1' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true }),
      });
      await res.text();
      const [span] = await waitUntil(() => exporter.getFinishedSpans().length > 0 && exporter.getFinishedSpans(), { what: 'the SERVER span' });
      expect(span.kind).toBe(SpanKind.SERVER);
      expect(span.spanContext().traceId).toBe(TRACE_ID);
      expect(span.parentSpanContext?.spanId).toBe(CALLER_SPAN);
      expect(span.spanContext().traceState?.get('vendor')).toBe('1');
      expect(span.attributes['gen_ai.usage.output_tokens']).toBe(5);
    } finally {
      await app.close();
    }
  });
});
