import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { createLlmMetrics, startMetrics } from '@inferwatch/sdk';
import { collect } from '../helpers/collect.js';
import { serve } from '../helpers/net.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * Failures a user can see. This file runs in a process of its own, with no diag logger until the
 * last test: each kind of problem must reach stderr exactly once, then only be counted.
 * (Kinds are said once per process, so each test uses kinds no earlier test used.)
 */

let stderr: string[];
let spy: ReturnType<typeof vi.spyOn>;
beforeEach(() => {
  stderr = [];
  spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr.push(String(chunk));
    return true;
  });
});
afterEach(() => spy.mockRestore());
const savedEnv = { ...process.env };
afterAll(() => {
  process.env = { ...savedEnv };
  diag.disable();
});

describe('without a diag logger, each kind of problem is printed once to stderr', () => {
  it('misuse: one line per reason, however many calls, and every call counted', async () => {
    const llm = createLlmMetrics({ log: false });
    for (let i = 0; i < 5; i++) llm.startRequest(null as never);
    const r = llm.startRequest({ model: 'm' });
    r.tokens(-1);
    r.tokens(-2);
    expect(stderr.filter((l) => l.includes('invalid_argument'))).toHaveLength(1);
    expect(stderr.filter((l) => l.includes('invalid_number'))).toHaveLength(1);
    expect(stderr).toHaveLength(2);
    const misuse = (await collect(llm.producer)).metric('inferwatch.sdk.misuse')!.dataPoints;
    expect(Object.fromEntries(misuse.filter((p) => p.value).map((p) => [p.attributes.reason, p.value]))).toEqual({ invalid_argument: 5, invalid_number: 2 });
  });

  it('misspelt options: one line each, naming the nearest known key, and the rest of the options still apply', async () => {
    const llm = createLlmMetrics({ log: false, providr: 'x', maxModel: 3 } as never);
    const telemetry = startMetrics({ llm, meterProvider: 'private', servicename: 'a', promethus: { port: 1 }, prometheus: { prot: 2 }, gpus: true } as never);
    await telemetry.shutdown();
    const said = (text: string) => stderr.filter((l) => l.includes(text));
    expect(said('unknown option "providr" is ignored; did you mean "provider"?')).toHaveLength(1);
    expect(said('unknown option "maxModel" is ignored; did you mean "maxModels"?')).toHaveLength(1);
    expect(said('unknown option "servicename" is ignored; did you mean "serviceName"?')).toHaveLength(1);
    expect(said('unknown option "promethus" is ignored; did you mean "prometheus"?')).toHaveLength(1);
    expect(said('startMetrics({ prometheus }): unknown option "prot" is ignored; did you mean "port"?')).toHaveLength(1);
    expect(said('unknown option "gpus" is ignored; did you mean "gpu"?')).toHaveLength(1);
    expect(stderr).toHaveLength(6);
  });

  it('invalid buckets are reported at creation: a misspelt key, unsorted and non-finite boundaries', async () => {
    const llm = createLlmMetrics({
      log: false,
      buckets: {
        // @ts-expect-error: a misspelt metric name is a type error too
        'gen_ai.server.time_to_first_tokn': [1, 2],
        'gen_ai.server.request.duration': [2, 1],
        'inferwatch.request.queue.duration': [0.1, Infinity],
      },
    });
    expect(stderr.filter((l) => l.includes('no histogram is named "gen_ai.server.time_to_first_tokn"'))).toHaveLength(1);
    expect(stderr.filter((l) => l.includes('buckets for gen_ai.server.request.duration must be'))).toHaveLength(1);
    expect(stderr.filter((l) => l.includes('buckets for inferwatch.request.queue.duration must be'))).toHaveLength(1);
    // The defaults stand in: 14 boundaries of the GenAI duration advice.
    llm.startRequest({ model: 'm', at: 0 }).end({ at: 10 });
    const point = (await collect(llm.producer)).histogram('gen_ai.server.request.duration', {
      'gen_ai.request.model': 'm',
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'unknown',
    });
    expect(point!.value.buckets.boundaries).toHaveLength(14);
  });

  it('OTLP over grpc is refused at start-up, clearly, and nothing is sent as http/protobuf instead', async () => {
    let received = 0;
    const rx = await serve((req, res) => {
      received++;
      req.resume();
      res.end();
    });
    try {
      process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'grpc';
      const telemetry = startMetrics({ llm: createLlmMetrics({ log: false }), prometheus: false, meterProvider: 'private', otlp: { url: `${rx.url}/v1/metrics` } });
      await telemetry.forceFlush();
      await telemetry.shutdown();
      expect(received).toBe(0);
      expect(stderr.filter((l) => l.includes('OTLP protocol "grpc" is not supported'))).toHaveLength(1);
    } finally {
      delete process.env.OTEL_EXPORTER_OTLP_PROTOCOL;
      await rx.close();
    }
  });

  it('an unreachable OTLP endpoint: the first failed export is printed, later ones are not', async () => {
    const rx = await serve(() => {});
    const url = `${rx.url}/v1/metrics`;
    await rx.close();
    // Exports every 200 ms, each given up after 200 ms (the exporter's own timeout follows the interval).
    const telemetry = startMetrics({ llm: createLlmMetrics({ log: false }), prometheus: false, meterProvider: 'private', otlp: { url, protocol: 'http/json', intervalMs: 200 } });
    const failed = () => stderr.filter((l) => l.includes(`OTLP metrics export to ${url} failed`));
    await waitUntil(() => failed().length > 0, { what: 'the first failed export to be printed', intervalMs: 50 });
    // Three more exports, each to its end (failed: nothing listens), whatever the pace of the machine.
    for (let i = 0; i < 3; i++) await telemetry.forceFlush();
    await telemetry.shutdown();
    expect(failed()).toHaveLength(1);
  });

  it('with a diag logger set, problems go to it and not to stderr, invalid bucket keys included', () => {
    const messages: string[] = [];
    const logger = { error: () => {}, warn: (m: string) => messages.push(m), info: () => {}, debug: () => {}, verbose: () => {} };
    diag.setLogger(logger, DiagLogLevel.WARN);
    createLlmMetrics({ log: false, buckets: { 'inferwatch.request.decode.duration': [3, 2, 1] } }).startRequest({ model: 'm', at: -Infinity });
    createLlmMetrics({ log: false, buckets: { 'nope': [1] } as never });
    expect(stderr).toEqual([]);
    expect(messages.filter((m) => m.includes('buckets for inferwatch.request.decode.duration must be'))).toHaveLength(1);
    expect(messages.filter((m) => m.includes('no histogram is named "nope"'))).toHaveLength(1);
    expect(messages.filter((m) => m.includes('invalid_timestamp'))).toHaveLength(1);
  });
});
