import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { createLlmMetrics } from '@inferwatch/sdk';
import { collect, type Collected } from '../helpers/collect.js';

/** The sum of a metric's points whose attributes include `match`. */
function sum(m: Collected, name: string, match: Record<string, unknown>): number {
  const points = (m.metric(name)?.dataPoints ?? []) as Array<{ attributes: Record<string, unknown>; value: unknown }>;
  return points
    .filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v))
    .reduce((total, p) => total + (typeof p.value === 'number' ? p.value : (p.value as { count: number }).count), 0);
}

// The outcome methods do what their names say, and take their timestamp the same way.
let warnings: string[];
beforeEach(() => {
  warnings = [];
  diag.setLogger({ error: () => {}, warn: (m: string) => void warnings.push(m), info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);
});
afterEach(() => diag.disable());

describe('end() with a reserved finish reason', () => {
  it.each(['abort', 'error'])("end({ finishReason: '%s' }) is misuse, said once, and the request ends as a success with reason other", async (reserved) => {
    let now = 1000;
    const llm = createLlmMetrics({ clock: () => now });
    for (let i = 0; i < 3; i++) {
      const r = llm.startRequest({ model: 'm' });
      r.firstToken();
      now += 10;
      r.end({ finishReason: reserved, outputTokens: 4 });
    }
    const m = await collect(llm.producer);
    expect(sum(m, 'inferwatch.requests.finished', { finish_reason: 'other' })).toBe(3);
    expect(sum(m, 'inferwatch.requests.finished', { finish_reason: reserved })).toBe(0);
    expect(m.point('inferwatch.sdk.misuse', { reason: 'invalid_argument' })!.value).toBe(3);
    // A success: no error.type, and the tokens it reported count.
    const durations = m.metric('gen_ai.server.request.duration')!.dataPoints as Array<{ attributes: Record<string, unknown>; value: { count: number } }>;
    expect(durations.map((p) => [p.attributes['error.type'], p.value.count])).toEqual([[undefined, 3]]);
    expect(sum(m, 'inferwatch.tokens', { 'gen_ai.token.type': 'output' })).toBe(12);
    expect(warnings.filter((w) => w.includes(`finishReason: '${reserved}'`))).toHaveLength(1);
  });
});

describe('fail() and abort() take { at } as end() does', () => {
  it.each([
    ['fail(error, { at })', (h: ReturnType<ReturnType<typeof createLlmMetrics>['startRequest']>, at: number) => h.fail('boom', { at })],
    ['abort({ at })', (h: ReturnType<ReturnType<typeof createLlmMetrics>['startRequest']>, at: number) => h.abort({ at })],
  ])('%s records the duration to `at`', async (_, outcome) => {
    const llm = createLlmMetrics({ clock: () => 5000 });
    // Arrival at 1000, the outcome at 1250: 0.25 s whatever the clock says now.
    outcome(llm.startRequest({ model: 'm', at: 1000 }), 1250);
    const m = await collect(llm.producer);
    const points = m.metric('gen_ai.server.request.duration')!.dataPoints as Array<{ attributes: Record<string, unknown>; value: { sum: number; count: number } }>;
    const point = points.find((p) => p.attributes['error.type'] !== undefined)!;
    expect(point.value.count).toBe(1);
    expect(point.value.sum).toBeCloseTo(0.25, 9);
    expect(m.point('inferwatch.sdk.misuse', { reason: 'invalid_timestamp' })!.value).toBe(0);
  });

  it('a timestamp before the previous event is rejected', async () => {
    const llm = createLlmMetrics({ clock: () => 5000 });
    llm.startRequest({ model: 'm', at: 1000 }).abort({ at: 999 });
    llm.startRequest({ model: 'm', at: 1000 }).fail('x', { at: 999 });
    const m = await collect(llm.producer);
    expect(m.point('inferwatch.sdk.misuse', { reason: 'invalid_timestamp' })!.value).toBe(2);
  });

  it('a bare number is misuse: counted and said, and the outcome still happens, at the clock', async () => {
    const llm = createLlmMetrics({ clock: () => 5000 });
    llm.startRequest({ model: 'm', at: 1000 }).abort(1250 as never);
    llm.startRequest({ model: 'm', at: 1000 }).fail('x', 1250 as never);
    const m = await collect(llm.producer);
    expect(m.point('inferwatch.sdk.misuse', { reason: 'invalid_argument' })!.value).toBe(2);
    expect(warnings.filter((w) => w.includes('takes its timestamp as { at }'))).toHaveLength(1);
    const points = m.metric('gen_ai.server.request.duration')!.dataPoints as Array<{ value: { sum: number; count: number } }>;
    // Both ended now, at 5000: four seconds after arrival, not 0.25.
    expect(points.reduce((sum, p) => sum + p.value.sum, 0)).toBeCloseTo(8, 9);
    expect(points.reduce((count, p) => count + p.value.count, 0)).toBe(2);
  });
});
