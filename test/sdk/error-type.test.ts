import { describe, expect, it } from 'vitest';
import { createClientMetrics, createLlmMetrics } from '@inferwatch/sdk';
import { tapResponse } from '@inferwatch/sdk/internal';
import { collect } from '../helpers/collect.js';

// One precedence for error.type wherever a failure is read (docs/metrics.md): a string error itself;
// else the error's code, type, status, statusCode or name, the first that is a string or a number;
// else _OTHER. Each case is what a reader of the docs expects from that rule.
const CASES: Array<[string, unknown, string]> = [
  ['a string', 'overloaded', 'overloaded'],
  ['code before type', { code: 'context_length_exceeded', type: 'invalid_request_error' }, 'context_length_exceeded'],
  ['type when code is null', { code: null, type: 'invalid_request_error', status: 400 }, 'invalid_request_error'],
  ['a numeric status', { status: 429, name: 'RateLimitError' }, '429'],
  ['statusCode before name', { statusCode: 503, name: 'HTTPError' }, '503'],
  ['a Node error: its code', Object.assign(new Error('reset'), { code: 'ECONNRESET' }), 'ECONNRESET'],
  ['a plain Error: its name', new TypeError('x'), 'TypeError'],
  ['nothing usable', { code: {}, type: [] }, '_OTHER'],
  ['a getter that throws', Object.defineProperty({}, 'code', { get: () => { throw new Error('hostile'); } }), '_OTHER'],
];

const errorTypes = (points: Array<{ attributes: Record<string, unknown> }> | undefined) =>
  (points ?? []).map((p) => p.attributes['error.type']).filter((t) => t !== undefined);

describe('error.type: one precedence everywhere', () => {
  it.each(CASES)('the server recorder: %s', async (_, error, expected) => {
    const llm = createLlmMetrics({ log: false });
    llm.startRequest({ model: 'm' }).fail(error);
    const c = await collect(llm.producer);
    expect(errorTypes(c.metric('gen_ai.server.request.duration')?.dataPoints as never)).toEqual([expected]);
  });

  it.each(CASES)('the client recorder: %s', async (_, error, expected) => {
    const client = createClientMetrics();
    client.startOperation({ model: 'm' }).fail(error);
    const c = await collect(client.producer);
    expect(errorTypes(c.metric('gen_ai.client.operation.duration')?.dataPoints as never)).toEqual([expected]);
  });

  it('the response tap reads an OpenAI error body by the same rule', async () => {
    const bodies: Array<[unknown, string]> = [
      [{ error: { message: 'x', type: 'invalid_request_error', code: 'context_length_exceeded' } }, 'context_length_exceeded'],
      [{ error: { message: 'x', type: 'invalid_request_error', code: null } }, 'invalid_request_error'],
      [{ error: { message: 'x' } }, 'upstream_error'],
    ];
    for (const [body, expected] of bodies) {
      const llm = createLlmMetrics({ log: false });
      const tap = tapResponse(llm.startRequest({ model: 'm' }), { format: 'json' });
      tap.write(JSON.stringify(body));
      tap.finish();
      const c = await collect(llm.producer);
      expect(errorTypes(c.metric('gen_ai.server.request.duration')?.dataPoints as never)).toEqual([expected]);
    }
  });
});
