import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLlmMetrics } from '@inferwatch/sdk';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('the log line of a process that bridges its upstreams’ state', () => {
  it('names whose numbers it prints: this process’s throughput, each upstream’s scheduler and KV', () => {
    let now = 0;
    const lines: string[] = [];
    const llm = createLlmMetrics({ clock: () => now, log: { intervalMs: 10_000, sink: (l) => lines.push(l) } });
    // This replica's own traffic: one request of 40 output tokens, while the engine runs 17 for everyone.
    const own = llm.startRequest({ model: 'm', promptTokens: 100 });
    own.scheduled();
    own.firstToken();
    own.tokens(39);
    own.end();
    llm.observeEngineState(() => [
      { running: 17, waiting: 4, gpuKvCacheUsage: 0.25, attributes: { upstream: 'http://10.0.0.7:8000' } },
      { running: 2, waiting: 0, swapped: 1, gpuKvCacheUsage: 0.5, cpuKvCacheUsage: 0.125, attributes: { upstream: 'http://10.0.0.8:8000' } },
    ]);
    now = 10_000;
    vi.advanceTimersByTime(10_000);
    expect(lines).toEqual([
      'Avg prompt throughput: 10.0 tokens/s, Avg generation throughput: 4.0 tokens/s (this process); ' +
        'upstream http://10.0.0.7:8000: Running: 17 reqs, Swapped: n/a, Pending: 4 reqs, GPU KV cache usage: 25.0%, CPU KV cache usage: n/a; ' +
        'upstream http://10.0.0.8:8000: Running: 2 reqs, Swapped: 1 reqs, Pending: 0 reqs, GPU KV cache usage: 50.0%, CPU KV cache usage: 12.5%',
    ]);
    llm.shutdown();
  });

  it('keeps vLLM’s line, unchanged, for an engine that reports its own state', () => {
    const lines: string[] = [];
    const llm = createLlmMetrics({ clock: () => 0, log: { intervalMs: 1000, sink: (l) => lines.push(l) } });
    llm.reportEngineState({ running: 3, waiting: 1, swapped: 0, gpuKvCacheUsage: 0.018, cpuKvCacheUsage: 0 });
    vi.advanceTimersByTime(1000);
    expect(lines).toEqual([
      'Avg prompt throughput: 0.0 tokens/s, Avg generation throughput: 0.0 tokens/s, Running: 3 reqs, Swapped: 0 reqs, Pending: 1 reqs, GPU KV cache usage: 1.8%, CPU KV cache usage: 0.0%',
    ]);
    llm.shutdown();
  });
});
