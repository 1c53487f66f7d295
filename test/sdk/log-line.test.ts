import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLlmMetrics } from '@inferwatch/sdk';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('the periodic log line', () => {
  it('prints vLLM’s line with throughput over the interval’s measured length', () => {
    let now = 0;
    const lines: string[] = [];
    const llm = createLlmMetrics({ clock: () => now, log: { intervalMs: 10_000, sink: (l) => lines.push(l) } });
    const a = llm.startRequest({ model: 'm', promptTokens: 500 });
    a.scheduled();
    now = 1000;
    a.firstToken();
    now = 2000;
    a.tokens(99);
    a.end();
    const b = llm.startRequest({ model: 'm', promptTokens: 100 });
    b.scheduled();
    now = 3000;
    b.firstToken();
    b.tokens(49);
    llm.startRequest({ model: 'm' });
    llm.reportEngineState({ gpuKvCacheUsage: 0.018 });

    now = 12_500; // the timer fired late: throughput divides by 12.5 s, not 10 s
    vi.advanceTimersByTime(10_000);
    expect(lines).toEqual([
      'Avg prompt throughput: 48.0 tokens/s, Avg generation throughput: 12.0 tokens/s, Running: 1 reqs, Swapped: 0 reqs, Pending: 1 reqs, GPU KV cache usage: 1.8%, CPU KV cache usage: n/a',
    ]);

    now = 22_500;
    b.preempted();
    vi.advanceTimersByTime(10_000);
    expect(lines[1]).toBe(
      'Avg prompt throughput: 0.0 tokens/s, Avg generation throughput: 0.0 tokens/s, Running: 0 reqs, Swapped: 1 reqs, Pending: 1 reqs, GPU KV cache usage: 1.8%, CPU KV cache usage: n/a',
    );

    llm.shutdown();
    vi.advanceTimersByTime(60_000);
    expect(lines).toHaveLength(2);
  });

  it('survives a throwing sink and can be turned off', () => {
    const llm = createLlmMetrics({
      log: {
        intervalMs: 1000,
        sink: () => {
          throw new Error('disk full');
        },
      },
    });
    expect(() => vi.advanceTimersByTime(3000)).not.toThrow();
    llm.shutdown();
    const spy = vi.spyOn(console, 'log').mockImplementation(() => {});
    createLlmMetrics({ log: false });
    vi.advanceTimersByTime(60_000);
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
  });

  it('prints nothing unless asked: no line in 30 s from a recorder made with no options', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const llm = createLlmMetrics();
    llm.startRequest({ model: 'm', promptTokens: 3 }).end();
    vi.advanceTimersByTime(30_000);
    expect(log).not.toHaveBeenCalled();
    expect(write).not.toHaveBeenCalled();
    llm.shutdown();
    log.mockRestore();
    write.mockRestore();
  });

  it('with log: true, writes to the console every 10 s', () => {
    const spy = vi.spyOn(console, 'log').mockImplementation(() => {});
    const llm = createLlmMetrics({ log: true });
    vi.advanceTimersByTime(9_999);
    expect(spy).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy.mock.calls[0][0]).toMatch(/^INFO \d\d-\d\d \d\d:\d\d:\d\d inferwatch\] Avg prompt throughput: 0\.0 tokens\/s, /);
    llm.shutdown();
    spy.mockRestore();
  });
});
