import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemBinary } from '../helpers/binaries.js';
import { freePort } from '../helpers/net.js';
import { startTracedGateway } from '../helpers/traced-gateway.js';
import { waitUntil } from '../helpers/wait.js';

const prometheusBinary = systemBinary('prometheus', 'exemplars through a real Prometheus with exemplar storage');
const OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

interface ExemplarSeries {
  seriesLabels: Record<string, string>;
  exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
}

/** Prometheus scraping only the gateway, every second, keeping exemplars. */
async function startPrometheus(binary: string, target: string) {
  const dir = mkdtempSync(join(tmpdir(), 'inferwatch-exemplars-'));
  const config = join(dir, 'prometheus.yaml');
  writeFileSync(config, ['global:', '  scrape_interval: 1s', 'scrape_configs:', '  - job_name: gateway', '    static_configs:', `      - targets: ["${target}"]`, ''].join('\n'));
  const port = await freePort();
  const child: ChildProcess = spawn(
    binary,
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--enable-feature=exemplar-storage'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  let output = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        output += d.toString();
        if (output.includes('Server is ready to receive web requests')) resolve();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`prometheus exited (${code}):\n${output}`)));
      setTimeout(() => reject(new Error(`prometheus not ready in time:\n${output}`)), 20_000);
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `http://127.0.0.1:${port}`, stop };
}

describe.skipIf(prometheusBinary === undefined)('exemplars through Prometheus', () => {
  let lab: Awaited<ReturnType<typeof startTracedGateway>>;
  let prometheus: Awaited<ReturnType<typeof startPrometheus>> | undefined;

  beforeAll(async () => {
    lab = await startTracedGateway(['ex']);
    prometheus = await startPrometheus(prometheusBinary!, new URL(lab.gateway.url).host);
  }, 60_000);
  afterAll(async () => {
    await prometheus?.stop();
    await lab?.stop();
  });

  it('serves OpenMetrics when asked, as Prometheus asks', async () => {
    const res = await fetch(`${lab.gateway.url}/metrics`, { headers: { accept: OPENMETRICS } });
    const text = await res.text();
    expect(res.headers.get('content-type')).toMatch(/^application\/openmetrics-text/);
    expect(text.endsWith('# EOF\n')).toBe(true);
  });

  it('returns TTFT exemplars whose trace and span ids are spans the gateway exported, in the bucket of their value', async () => {
    const start = Date.now() / 1000 - 1;
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${lab.gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'ex', messages: [{ role: 'user', content: 'hi' }], stream: true }),
      });
      await res.text();
    }
    const query = encodeURIComponent('{__name__=~"gen_ai_server_time_to_first_token.*_bucket"}');
    const series = await waitUntil(async () => {
      const body = (await (await fetch(`${prometheus!.url}/api/v1/query_exemplars?query=${query}&start=${start}&end=${Date.now() / 1000 + 1}`)).json()) as { status: string; data: unknown };
      expect(body.status).toBe('success');
      const found = body.data as ExemplarSeries[];
      return found.some((s) => s.exemplars.length > 0) && found;
    }, { what: 'exemplars in Prometheus', timeoutMs: 20_000, intervalMs: 500 });
    const exemplars = series.flatMap((s) => s.exemplars.map((e) => ({ ...e, le: Number(s.seriesLabels.le) })));

    const spans = new Map(lab.receiver.spans.map((s) => [s.spanId, s]));
    for (const e of exemplars) {
      const span = spans.get(e.labels.span_id);
      expect(span, `exemplar span ${e.labels.span_id} was never exported`).toBeDefined();
      expect(span!.traceId).toBe(e.labels.trace_id);
      // The exemplar's value is that request's TTFT, and it sits in a bucket that holds it.
      expect(Number(e.value)).toBe(span!.attributes['gen_ai.latency.time_to_first_token']);
      expect(Number(e.value)).toBeLessThanOrEqual(e.le);
    }
  }, 60_000);
});
