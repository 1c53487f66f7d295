import { describe, expect, it } from 'vitest';
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
    // A slow probe (500 ms), so the second collection surely comes before its next tick.
    const runtime = createRuntimeMetrics({ resolutionMs: 500 });
    try {
      await new Promise((resolve) => setTimeout(resolve, 600));
      const first = await delays(() => runtime.producer.collect());
      const second = await delays(() => runtime.producer.collect());
      expect([...first.keys()].sort()).toEqual(['max', 'mean', 'min', 'p50', 'p90', 'p99', 'stddev'].map((s) => `nodejs.eventloop.delay.${s}`));
      expect(second).toEqual(first);
    } finally {
      runtime.shutdown();
    }
  });
});
