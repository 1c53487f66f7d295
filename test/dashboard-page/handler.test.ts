import { get, type IncomingMessage } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createLlmMetrics, startMetrics, type RunningMetrics, type Snapshot } from '@inferwatch/sdk';
import { serve } from '../helpers/net.js';

const TTFT_BOUNDS = [0.1, 0.5, 1];
const TTFTS = [0.05, 0.2, 0.3, 0.7, 2]; // one per bucket boundary gap, the last past every bound
const OUTPUT_TOKENS = [3, 5, 8, 13, 21];

let running: RunningMetrics | undefined;
let app: Awaited<ReturnType<typeof serve>> | undefined;
afterEach(async () => {
  await app?.close();
  await running?.shutdown();
  app = running = undefined;
});

async function start(token?: string) {
  const llm = createLlmMetrics({ log: false, buckets: { 'gen_ai.server.time_to_first_token': TTFT_BOUNDS } });
  TTFTS.forEach((ttft, i) => {
    const r = llm.startRequest({ model: 'm', promptTokens: 10, at: 0 });
    r.tokens(OUTPUT_TOKENS[i], ttft * 1000);
    r.end({ at: ttft * 1000 + 5 });
  });
  const second = createLlmMetrics({ log: false });
  second.startRequest({ model: 'other', at: 0 }).end({ at: 1 });
  running = startMetrics({ serviceName: 'page-test', llm: [llm, second], meterProvider: 'private', otlp: false, dashboard: { token } });
  app = await serve((req, res) => (req.url?.startsWith('/metrics') ? running!.metricsHandler(req, res) : running!.dashboardHandler(req, res)));
  return app.url;
}

describe('the dashboard handler', () => {
  it('serves one self-contained page under 150 KB gzipped', async () => {
    const url = await start();
    // node:http, not fetch: fetch would decompress, and the bytes on the wire are what is measured.
    const res = await new Promise<IncomingMessage>((resolve, reject) => get(`${url}/dashboard`, { headers: { 'accept-encoding': 'gzip' } }, resolve).on('error', reject));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-encoding']).toBe('gzip');
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const gzipped = Buffer.concat(chunks);
    const html = gunzipSync(gzipped).toString('utf8');
    console.log(`dashboard page: ${html.length} bytes, ${gzipped.length} gzipped`);
    expect(gzipped.length).toBeLessThanOrEqual(150 * 1024);
    // uPlot is inside, and nothing is fetched from elsewhere: no external script, style or font.
    expect(html).toContain('uplot');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|@import|https?:\/\/(?!www\.w3\.org)/);
    expect(res.headers['content-security-policy']).toContain("connect-src 'self'");
  });

  it("snapshots the recorders' counters, buckets and gauges as recorded", async () => {
    const url = await start();
    const res = await fetch(`${url}/dashboard/snapshot`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const snapshot = (await res.json()) as Snapshot;
    expect(snapshot.service).toBe('page-test');
    expect(Math.abs(snapshot.t - Date.now())).toBeLessThan(60_000);
    const metric = (name: string) => snapshot.metrics.find((m) => m.name === name)!;

    const tokens = metric('inferwatch.tokens');
    expect(tokens.kind).toBe('counter');
    const output = tokens.points.find((p) => p.attributes['gen_ai.token.type'] === 'output')!;
    expect(output.value).toBe(OUTPUT_TOKENS.reduce((a, b) => a + b));

    const ttft = metric('gen_ai.server.time_to_first_token');
    expect(ttft.kind).toBe('histogram');
    expect(ttft.unit).toBe('s');
    const [point] = ttft.points;
    expect(point.attributes['gen_ai.request.model']).toBe('m');
    expect(point.bounds).toEqual(TTFT_BOUNDS);
    const expected = [...TTFT_BOUNDS, Infinity].map((le, i) => TTFTS.filter((t) => t <= le && (i === 0 || t > TTFT_BOUNDS[i - 1])).length);
    expect(point.counts).toEqual(expected);
    expect(point.count).toBe(TTFTS.length);
    expect(point.sum).toBeCloseTo(TTFTS.reduce((a, b) => a + b), 9);

    const running = metric('inferwatch.scheduler.running');
    expect(running.kind).toBe('gauge');
    expect(running.points[0].value).toBe(0);
    const finished = metric('inferwatch.requests.finished').points.filter((p) => p.attributes.finish_reason === 'stop');
    expect(Object.fromEntries(finished.map((p) => [p.attributes['gen_ai.request.model'], p.value]))).toEqual({ m: TTFTS.length, other: 1 });
  });

  it("adds no reader to the host's MeterProvider: a page nobody opens holds nothing back at each export", async () => {
    await start();
    // White-box on purpose: an idle extra reader there would stash a copy of every instrument's data
    // at each scrape until the page asked, which no black-box check sees before memory runs out.
    const collectors = (running!.meterProvider as unknown as { _sharedState: { metricCollectors: unknown[] } })._sharedState.metricCollectors;
    expect(collectors.length).toBe(1);
    expect((await fetch(`${app!.url}/dashboard/snapshot`)).status).toBe(200);
  });

  it('refuses the page and the snapshot without the token when one is set, and takes it as a header or once in the address', async () => {
    const url = await start('s3cret-token');
    for (const path of ['/dashboard', '/dashboard/snapshot']) {
      for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong' }, { authorization: 'Bearer s3cret-token-and-more' }, { authorization: 'Basic s3cret-token' }]) {
        const res = await fetch(`${url}${path}`, { headers });
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
        expect(await res.text()).not.toContain('inferwatch.tokens');
      }
      expect((await fetch(`${url}${path}?token=wrong`)).status).toBe(401);
      expect((await fetch(`${url}${path}`, { headers: { authorization: 'Bearer s3cret-token' } })).status).toBe(200);
      expect((await fetch(`${url}${path}?token=s3cret-token`)).status).toBe(200);
    }
  });

  it('stays closed when asked for protection with an unusable token', async () => {
    for (const token of ['', 123 as unknown as string]) {
      const url = await start(token);
      expect((await fetch(`${url}/dashboard/snapshot`)).status, String(token)).toBe(401);
      expect((await fetch(`${url}/dashboard/snapshot?token=${token}`)).status, String(token)).toBe(401);
      await app!.close();
      await running!.shutdown();
      app = running = undefined;
    }
  });

  it('writes the SLOs it reports on into the page: the defaults, the ones given, none when turned off, a bad value said once and replaced', async () => {
    const configOf = async (slo: unknown) => {
      const metrics = startMetrics({ prometheus: false, otlp: false, meterProvider: false, runtime: false, dashboard: { slo: slo as never } });
      const server = await serve(metrics.dashboardHandler);
      try {
        const html = await (await fetch(`${server.url}/dashboard`)).text();
        const json = /<script type="application\/json" id="inferwatch-config">(.*?)<\/script>/s.exec(html)?.[1];
        return JSON.parse(json ?? 'null') as unknown;
      } finally {
        await server.close();
        await metrics.shutdown();
      }
    };
    expect(await configOf(undefined)).toEqual({ slo: { ttft: { objective: 0.99, thresholdSeconds: 1 }, availability: { objective: 0.99 } } });
    expect(await configOf({ ttft: { objective: 0.995, thresholdSeconds: 2 }, availability: false })).toEqual({ slo: { ttft: { objective: 0.995, thresholdSeconds: 2 } } });
    expect(await configOf(false)).toEqual({ slo: {} });
    const lines: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => (lines.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      expect(await configOf({ ttft: { objective: 99 }, availability: { objective: '0.9' } })).toEqual({ slo: { ttft: { objective: 0.99, thresholdSeconds: 1 }, availability: { objective: 0.99 } } });
    } finally {
      process.stderr.write = write;
    }
    expect(lines.filter((l) => l.includes('ttft.objective must be a number between 0 and 1, not 99'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('availability.objective must be a number between 0 and 1, not a string of 3 characters'))).toHaveLength(1);
  });

  it('answers only GET and HEAD', async () => {
    const url = await start();
    const res = await fetch(`${url}/dashboard/snapshot`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(405);
    expect((await fetch(`${url}/dashboard`, { method: 'HEAD' })).status).toBe(200);
  });

  it('costs no more to refresh than a scrape of the same data, in bytes and in CPU', async () => {
    // 50 models × 2 operations: the size issue #12 measured a scrape at.
    const llm = createLlmMetrics({ log: false });
    for (let m = 0; m < 50; m++) {
      for (const operation of ['chat', 'text_completion']) {
        for (let i = 0; i < 3; i++) {
          const r = llm.startRequest({ model: `model-${m}`, operation, promptTokens: 100, at: 0 });
          r.scheduled(5 * i);
          r.tokens(10 + i, 40 + 30 * i);
          r.end({ at: 400 + 100 * i });
        }
      }
    }
    running = startMetrics({ serviceName: 'cost', llm, meterProvider: 'private', otlp: false });
    app = await serve((req, res) => (req.url === '/metrics' ? running!.metricsHandler(req, res) : running!.dashboardHandler(req, res)));
    const cost = async (path: string) => {
      const before = process.cpuUsage();
      const body = await (await fetch(`${app!.url}${path}`)).text();
      const used = process.cpuUsage(before);
      return { cpu: used.user + used.system, bytes: Buffer.byteLength(body) };
    };
    // Interleaved rounds, medians: each side is measured against the other under the same load.
    const refresh: number[] = [];
    const scrape: number[] = [];
    let sizes = { refresh: 0, scrape: 0 };
    for (let round = 0; round < 9; round++) {
      const a = await cost('/dashboard/snapshot');
      const b = await cost('/metrics');
      refresh.push(a.cpu);
      scrape.push(b.cpu);
      sizes = { refresh: a.bytes, scrape: b.bytes };
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    console.log(
      `refresh: ${sizes.refresh} bytes, ${(median(refresh) / 1000).toFixed(1)} ms CPU; scrape: ${sizes.scrape} bytes, ${(median(scrape) / 1000).toFixed(1)} ms CPU`,
    );
    expect(sizes.refresh).toBeLessThan(sizes.scrape);
    expect(median(refresh)).toBeLessThanOrEqual(median(scrape));
  });
});
