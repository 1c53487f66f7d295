import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntimeMetrics } from '@inferwatch/sdk';
// @ts-expect-error: plain JavaScript
import { startGateway } from '../../examples/gateway/gateway.mjs';
import { collect } from '../helpers/collect.js';
import { sample } from '../helpers/processes.js';
import { sleep } from '../helpers/wait.js';

/** Holds this thread, and so the event loop of everything in this process, for about `ms`; returns the measured time. */
function block(ms: number): number {
  const start = performance.now();
  while (performance.now() - start < ms) {
    // busy on purpose
  }
  return performance.now() - start;
}

describe('the event loop of a gateway made busy on purpose', () => {
  let gateway: { url: string; close: (drainMs?: number) => Promise<void> };
  beforeAll(async () => {
    // In this process, so the test can hold the gateway's loop itself.
    gateway = await startGateway({ upstreams: ['http://127.0.0.1:9'], port: 0, logIntervalMs: 0, bridgeIntervalMs: 0 });
  });
  afterAll(async () => gateway?.close(100));

  const scrape = async () => {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    return { max: sample(text, 'nodejs_eventloop_delay_max'), p99: sample(text, 'nodejs_eventloop_delay_p99'), utilization: sample(text, 'nodejs_eventloop_utilization') };
  };

  it('shows the block in the delay and the utilization of the window that held it, and not in the next', async () => {
    const before = performance.now();
    await scrape(); // opens a window
    await sleep(100);
    const busyMs = block(600);
    await sleep(50);
    const busy = await scrape();
    const windowMs = performance.now() - before;
    expect(busy.max! * 1000).toBeGreaterThanOrEqual(busyMs - 12);
    expect(busy.max! * 1000).toBeLessThan(windowMs);
    expect(busy.utilization!).toBeGreaterThanOrEqual((0.95 * busyMs) / windowMs);

    await sleep(300);
    const quiet = await scrape();
    expect(quiet.max! * 1000).toBeLessThan(busyMs / 2);
    expect(quiet.utilization!).toBeLessThan(busy.utilization!);
  });
});

describe('createRuntimeMetrics', () => {
  it('counts a block that ends just before a collection, before the probe could fire', async () => {
    const runtime = createRuntimeMetrics();
    try {
      await collect(runtime.producer); // opens a window
      await sleep(50);
      const busyMs = block(300);
      // No turn of the loop between the block and the collection: the probe is still overdue.
      const collected = await collect(runtime.producer);
      const max = collected.point('nodejs.eventloop.delay.max', {})!.value;
      expect(max * 1000).toBeGreaterThanOrEqual(busyMs - 12);
      expect(collected.metric('nodejs.eventloop.delay.max')!.descriptor.unit).toBe('s');
      // The overdue probe, firing now, adds only what came after the collection.
      await sleep(30);
      const next = await collect(runtime.producer);
      expect(next.point('nodejs.eventloop.delay.max', {})!.value * 1000).toBeLessThan(busyMs / 2);
    } finally {
      runtime.shutdown();
    }
  });

  it('exports the OpenTelemetry runtime-node names, delays in seconds and utilization as a ratio', async () => {
    const runtime = createRuntimeMetrics();
    try {
      await sleep(60);
      const collected = await collect(runtime.producer);
      for (const stat of ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99']) {
        const metric = collected.metric(`nodejs.eventloop.delay.${stat}`);
        expect(metric?.descriptor.unit, stat).toBe('s');
        expect(collected.point(`nodejs.eventloop.delay.${stat}`, {})!.value).toBeGreaterThanOrEqual(0);
      }
      const utilization = collected.point('nodejs.eventloop.utilization', {})!.value;
      expect(utilization).toBeGreaterThan(0);
      expect(utilization).toBeLessThanOrEqual(1);
      // docs/metrics.md has a row for each, with its Prometheus name and unit.
      const doc = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8').split('\n');
      const names = ['utilization', 'delay.min', 'delay.max', 'delay.mean', 'delay.stddev', 'delay.p50', 'delay.p90', 'delay.p99'];
      for (const name of names.map((n) => `nodejs.eventloop.${n}`)) {
        const row = doc.find((line) => line.startsWith(`| \`${name}\` |`));
        expect(row, name).toContain(`| \`${name.replaceAll('.', '_')}\` | gauge | ${collected.metric(name)!.descriptor.unit} |`);
      }
    } finally {
      runtime.shutdown();
    }
  });
});
