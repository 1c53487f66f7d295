import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript
import { DASHBOARDS } from '../../dashboards/generate.mjs';
// @ts-expect-error: plain JavaScript
import { allPanels, resolveVariables, startLab } from '../../dashboards/lab.mjs';
import { systemBinary } from '../helpers/binaries.js';

interface Target {
  expr: string;
}
interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}
interface Lab {
  engine: string;
  gateways: string[];
  query: (expr: string, time?: number) => Promise<Sample[]>;
  load: (rate: number, seconds: number) => Promise<void>;
  stop: () => Promise<void>;
}

const prometheus = systemBinary('prometheus', 'every dashboard query against a real Prometheus');
const JOBS = ['inferwatch-gateway', 'inferwatch-engine'];
const panelTargets: { dashboard: string; title: string; expr: string }[] = Object.entries(DASHBOARDS as Record<string, unknown>).flatMap(([file, d]) =>
  (allPanels(d) as { title: string; targets?: Target[] }[]).flatMap((p) => (p.targets ?? []).map((t) => ({ dashboard: file, title: p.title, expr: t.expr }))),
);
const targets = JOBS.flatMap((job) => panelTargets.map((t) => ({ ...t, job })));

describe.skipIf(prometheus === undefined)('every dashboard query against a real Prometheus scraping a demo run', () => {
  let lab: Lab;
  let evaluatedAt: number;
  let exposition = '';
  beforeAll(async () => {
    lab = await startLab({ prometheusBinary: prometheus });
    await lab.load(6, 20);
    evaluatedAt = Date.now() / 1000;
    for (const target of [...lab.gateways, lab.engine]) exposition += await (await fetch(`http://${target}/metrics`)).text();
  }, 120_000);
  afterAll(async () => lab?.stop());

  /** The largest finite bucket bound of a histogram in the exposition, for quantile checks. */
  const largestBucket = (metric: string) =>
    Math.max(...[...exposition.matchAll(new RegExp(`^${metric}_bucket\\{.*le="([^"+]+)"\\}`, 'gm'))].map((m) => Number(m[1])));

  it.each(targets)('$job › $dashboard › $title › $expr', async ({ expr, job }) => {
    const result = await lab.query(resolveVariables(expr, { job }), evaluatedAt);
    const values = result.map((s) => Number(s.value[1])).filter(Number.isFinite);
    expect(values.length, 'no series with a finite value').toBeGreaterThan(0);
    const quantileOf = /histogram_quantile\([\d.]+, sum by \(le\) \(rate\((\w+)_bucket/.exec(expr)?.[1];
    const ratio = /kv_cache|hw_gpu_utilization|hw_gpu_memory_usage/.test(expr);
    for (const v of values) {
      expect(v).toBeGreaterThanOrEqual(0);
      if (ratio) expect(v).toBeLessThanOrEqual(1);
      if (quantileOf) expect(v).toBeLessThanOrEqual(largestBucket(quantileOf));
    }
  });

  it('references only metrics the gateway and the engine expose', () => {
    const names = new Set(panelTargets.flatMap((t) => [...t.expr.matchAll(/\b((?:gen_ai|inferwatch|hw)_[a-z_]+)\{/g)].map((m) => m[1])));
    expect(names.size).toBeGreaterThan(10);
    for (const name of names) expect(exposition, name).toMatch(new RegExp(`^${name}[{ ]`, 'm'));
  });

  it('sums the two gateway replicas: the throughput panel equals the sum of each instance alone', async () => {
    const panel = panelTargets.find((t) => t.title === 'Token throughput' && t.expr.includes('"output"'))!;
    const window = { job: 'inferwatch-gateway', rateInterval: '30s' };
    const total = Number((await lab.query(resolveVariables(panel.expr, window), evaluatedAt))[0].value[1]);
    let sum = 0;
    for (const gateway of lab.gateways) {
      const one = panel.expr.replace('instance=~"$instance"', `instance="${gateway}"`);
      const [s] = await lab.query(resolveVariables(one, window), evaluatedAt);
      expect(Number(s.value[1])).toBeGreaterThan(0);
      sum += Number(s.value[1]);
    }
    expect(total).toBeGreaterThan(0);
    expect(total).toBeCloseTo(sum, 6);
  });
});
