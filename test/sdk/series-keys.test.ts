import { describe, expect, it } from 'vitest';
import { createClientMetrics, createLlmMetrics } from '@inferwatch/sdk';
import { collect } from '../helpers/collect.js';

/**
 * A series is found again through a cache keyed by what the caller passed. Parts of a key joined with a
 * separator collide when a value holds that separator; every key is length-prefixed instead.
 */
const finishedBy = async (producer: Parameters<typeof collect>[0], metric: string) => {
  const m = await collect(producer);
  return (m.metric(metric)?.dataPoints ?? [])
    .filter((p) => (typeof p.value === 'number' ? p.value : (p.value as { count: number }).count) > 0)
    .map((p) => [p.attributes['gen_ai.request.model'], p.attributes['gen_ai.operation.name'], p.attributes['gen_ai.provider.name']])
    .sort();
};

describe('series keys', () => {
  it('a newline inside a model or an operation cannot make two requests share a series', async () => {
    const llm = createLlmMetrics();
    llm.startRequest({ model: 'a\nb', operation: 'c' }).end();
    llm.startRequest({ model: 'a', operation: 'b\nc' }).end();
    llm.startRequest({ model: 'a', operation: 'b', provider: 'c' }).end();
    llm.startRequest({ model: 'a', operation: 'b\n', provider: 'c' }).end();
    const expected = [
      ['a', 'b', 'c'],
      ['a', 'b\n', 'c'],
      ['a', 'b\nc', 'unknown'],
      ['a\nb', 'c', 'unknown'],
    ];
    expect(await finishedBy(llm.producer, 'gen_ai.server.request.duration')).toEqual(expected.sort());
  });

  it('the same for client operations', async () => {
    const client = createClientMetrics();
    client.startOperation({ model: 'a\nb', operation: 'c' }).end();
    client.startOperation({ model: 'a', operation: 'b\nc' }).end();
    const expected = [
      ['a', 'b\nc', 'unknown'],
      ['a\nb', 'c', 'unknown'],
    ];
    expect(await finishedBy(client.producer, 'gen_ai.client.operation.duration')).toEqual(expected.sort());
  });
});
