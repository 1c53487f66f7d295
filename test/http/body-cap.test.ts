// Hono's middleware reads no more of a body than its cap, whatever the app's own limit is.
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { createLlmMetrics } from '@inferwatch/sdk';
import { instrumentHono } from '@inferwatch/http';
import { collect } from '../helpers/collect.js';

/** A lazily generated JSON body of `total` bytes that counts how much of it was pulled. */
function countedBody(total: number) {
  const chunk = new TextEncoder().encode(' '.repeat(64 * 1024));
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled === 0) {
        const head = new TextEncoder().encode('{"model":"m","prompt":"');
        pulled += head.byteLength;
        return controller.enqueue(head);
      }
      if (pulled >= total) return controller.close();
      pulled += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  return { stream, pulled: () => pulled };
}

describe('Hono middleware body cap', () => {
  it('stops reading at maxBodyBytes: a 64 MB body costs at most the cap and a chunk or two', async () => {
    const llm = createLlmMetrics({ log: false });
    const app = new Hono();
    app.use(instrumentHono(llm, { maxScanBytes: 1024 * 1024 }));
    // The app's own limit answers without reading the body.
    app.post('/v1/completions', (c) => c.json({ error: { message: 'too large', type: 'invalid_request_error', param: null, code: null } }, 413));
    const body = countedBody(64 * 1024 * 1024);
    const res = await app.fetch(new Request('http://x/v1/completions', { method: 'POST', body: body.stream, duplex: 'half' } as RequestInit));
    expect(res.status).toBe(413);
    expect(body.pulled()).toBeLessThanOrEqual(1024 * 1024 + 4 * 64 * 1024);
    // The exchange ends once its response has gone out, as on every other server.
    await res.text();
    const m = await collect(llm.producer);
    const points = m.metric('gen_ai.server.request.duration')!.dataPoints.filter((p) => (p.value as { count: number }).count > 0);
    expect(points.map((p) => [p.attributes['gen_ai.request.model'], p.attributes['error.type'], (p.value as { count: number }).count])).toEqual([['unknown', '413', 1]]);
  });
});
