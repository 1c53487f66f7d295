import { performance } from 'node:perf_hooks';
import { describe, expect, it, vi } from 'vitest';
import { createRuntimeMetrics } from '@inferwatch/sdk';

const DELAY = /^nodejs\.eventloop\.delay\./;

async function delays(collect: () => Promise<{ resourceMetrics: { scopeMetrics: { metrics: { descriptor: { name: string }; dataPoints: { value: unknown }[] }[] }[] } }>) {
  const { resourceMetrics } = await collect();
  const out = new Map<string, number>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const m of scope.metrics) if (DELAY.test(m.descriptor.name)) out.set(m.descriptor.name, Number(m.dataPoints[0]?.value));
  }
  return out;
}

describe('event-loop delay between two collections in a row', () => {
  it('keeps every delay series (the last window’s figures) when the probe has not ticked in between', async () => {
    // The probe's clock and timer are the test's: the probe ticks once, late, and then no time passes
    // between the two collections, however slowly this machine runs them.
    let now = 1_000;
    const clock = vi.spyOn(performance, 'now').mockImplementation(() => now);
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const runtime = createRuntimeMetrics({ resolutionMs: 500 });
    try {
      now += 530;
      vi.advanceTimersByTime(500);
      const first = await delays(() => runtime.producer.collect());
      const second = await delays(() => runtime.producer.collect());
      expect([...first.keys()].sort()).toEqual(['max', 'mean', 'min', 'p50', 'p90', 'p99', 'stddev'].map((s) => `nodejs.eventloop.delay.${s}`));
      // The one tick was 30 ms late: what the first collection reads (to the histogram's precision), and the second repeats.
      expect(first.get('nodejs.eventloop.delay.max')).toBeCloseTo(0.03, 4);
      expect(second).toEqual(first);
    } finally {
      runtime.shutdown();
      vi.useRealTimers();
      clock.mockRestore();
    }
  });
});
