import { describe, expect, it } from 'vitest';
import { createLlmMetrics } from '@inferwatch/sdk';
import { collect } from '../helpers/collect.js';

/** Request counts by model label, from the E2E histogram. */
async function countsByModel(llm: ReturnType<typeof createLlmMetrics>): Promise<Record<string, number>> {
  const m = await collect(llm.producer);
  const out: Record<string, number> = {};
  for (const p of m.metric('gen_ai.server.request.duration')?.dataPoints ?? []) {
    const model = String(p.attributes['gen_ai.request.model']);
    out[model] = (out[model] ?? 0) + (p.value as { count: number }).count;
  }
  return out;
}

describe('declared models', () => {
  it('an allow-list: undeclared names share `_OTHER` and take no slot, so junk never evicts a declared model', async () => {
    const llm = createLlmMetrics({ log: false, maxModels: 3, models: ['llama', 'qwen'] });
    for (let i = 0; i < 50; i++) llm.startRequest({ model: `junk-${i}` }).end();
    llm.startRequest({ model: 'llama' }).end();
    llm.startRequest({ model: 'qwen' }).end();
    llm.startRequest({ model: 'qwen' }).end();
    llm.startRequest({ model: '' }).end();
    expect(await countsByModel(llm)).toEqual({ _OTHER: 50, llama: 1, qwen: 2, unknown: 1 });
  });

  it('a test read at each new name: a model declared later gets its own series from then on', async () => {
    const served = new Set(['a']);
    const llm = createLlmMetrics({ log: false, models: (m) => served.has(m) });
    llm.startRequest({ model: 'a' }).end();
    llm.startRequest({ model: 'b' }).end();
    served.add('b');
    llm.startRequest({ model: 'b' }).end();
    expect(await countsByModel(llm)).toEqual({ a: 1, b: 1, _OTHER: 1 });
  });

  it('a test that throws counts as undeclared and as misuse, never as an error to the caller', async () => {
    const llm = createLlmMetrics({
      log: false,
      models: () => {
        throw new Error('boom');
      },
    });
    expect(() => llm.startRequest({ model: 'x' }).end()).not.toThrow();
    const m = await collect(llm.producer);
    expect(await countsByModel(llm)).toEqual({ _OTHER: 1 });
    expect(m.point('inferwatch.sdk.misuse', { reason: 'invalid_argument' })!.value).toBe(1);
  });
});
