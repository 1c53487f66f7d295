import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript
import { DASHBOARDS, DISTRIBUTION_POWERS } from '../../dashboards/generate.mjs';
// @ts-expect-error: plain JavaScript
import { allPanels } from '../../dashboards/lab.mjs';
import { HISTOGRAMS } from '../../packages/sdk/src/record/catalog.js';
import { requireBinary } from '../helpers/binaries.js';

const dir = fileURLToPath(new URL('../../dashboards/', import.meta.url));

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { uid: string };
  targets?: { expr: string; datasource: { uid: string } }[];
  panels?: Panel[];
}

const dashboards = Object.entries(DASHBOARDS as Record<string, { panels: Panel[]; templating: { list: { name: string }[] }; time: { from: string }; refresh: string }>);

describe.each(dashboards)('%s', (file, dashboard) => {
  const panels: Panel[] = allPanels(dashboard);

  it('is what dashboards/generate.mjs writes', () => {
    expect(JSON.parse(readFileSync(`${dir}grafana/dashboards/${file}`, 'utf8'))).toEqual(JSON.parse(JSON.stringify(dashboard)));
  });

  it('has unique panel ids and no overlapping panels', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const a of panels) {
      for (const b of panels) {
        if (a === b) continue;
        const overlap = a.gridPos.x < b.gridPos.x + b.gridPos.w && b.gridPos.x < a.gridPos.x + a.gridPos.w && a.gridPos.y < b.gridPos.y + b.gridPos.h && b.gridPos.y < a.gridPos.y + a.gridPos.h;
        expect(overlap, `${a.title} overlaps ${b.title}`).toBe(false);
      }
      expect(a.gridPos.x + a.gridPos.w).toBeLessThanOrEqual(24);
    }
  });

  it('takes every datasource from the datasource variable, and offers job, instance, model and tenant', () => {
    for (const p of panels.filter((p) => p.type !== 'row')) {
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      for (const t of p.targets ?? []) expect(t.datasource.uid, p.title).toBe('${datasource}');
    }
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'job', 'instance', 'model', 'tenant']);
  });

  it('filters every request panel by the tenant attribute, All matching servers that declare none', () => {
    const tenant = dashboard.templating.list.find((v) => v.name === 'tenant') as unknown as { includeAll: boolean; allValue: string; current: { value: string[] } };
    // `.*` also matches a series without the label (PromQL), so All leaves attribute-less servers' numbers as they are.
    expect(tenant).toMatchObject({ includeAll: true, allValue: '.*', current: { value: ['$__all'] } });
    const requestExprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).filter((e) => /gen_ai_server_|inferwatch_(request|tokens)/.test(e));
    expect(requestExprs.length).toBeGreaterThan(3);
    for (const expr of requestExprs) expect(expr).toContain('tenant=~"$tenant"');
  });

  it('aggregates across instances in every query', () => {
    for (const p of panels) {
      for (const t of p.targets ?? []) expect(t.expr, p.title).toMatch(/^(histogram_quantile\(|sum|avg|max|label_replace\()/);
    }
  });
});

describe('the dashboards', () => {
  it('have vLLM’s defaults: overview over 24 h, real-time over 5 min refreshed every 5 s, in two rows', () => {
    const [overview, realtime] = [DASHBOARDS['inferwatch-overview.json'], DASHBOARDS['inferwatch-realtime.json']];
    expect(overview.time.from).toBe('now-24h');
    expect(realtime.time.from).toBe('now-5m');
    expect(realtime.refresh).toBe('5s');
    expect(realtime.panels.filter((p: Panel) => p.type === 'row').map((p: Panel) => p.title)).toEqual(['Inference Request Metrics', 'Hardware Infrastructure Metrics']);
  });
});

describe('dashboards/docker-compose.yaml', () => {
  it('validates with docker-compose, provisioning Prometheus and both dashboards into Grafana', (ctx) => {
    const compose = requireBinary(ctx, 'docker-compose', 'docker-compose config on dashboards/docker-compose.yaml');
    const result = spawnSync(compose, ['-f', `${dir}docker-compose.yaml`, 'config'], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('image: prom/prometheus:');
    expect(result.stdout).toContain('image: grafana/grafana:');
    expect(result.stdout).toMatch(/grafana\/provisioning:\/etc\/grafana\/provisioning:ro/);
    expect(result.stdout).toMatch(/grafana\/dashboards:\/var\/lib\/grafana\/dashboards:ro/);
    expect(result.stdout).toMatch(/prometheus\/rules:\/etc\/prometheus\/rules:ro/);
    const datasource = readFileSync(`${dir}grafana/provisioning/datasources/prometheus.yaml`, 'utf8');
    expect(datasource).toContain('url: http://prometheus:9090');
    expect(readFileSync(`${dir}grafana/provisioning/dashboards/inferwatch.yaml`, 'utf8')).toContain('path: /var/lib/grafana/dashboards');
    // Native histograms on, as Prometheus 2.x needs them named (3.x: scrape_native_histograms in the config).
    expect(result.stdout).toContain('--enable-feature=native-histograms');
    const prometheus = readFileSync(`${dir}prometheus/prometheus.yaml`, 'utf8');
    expect(prometheus).toContain('host.docker.internal:8000');
    expect(prometheus).toContain('host.docker.internal:8001');
  });

  it('has a Prometheus config that promtool accepts, loading both rule files', (ctx) => {
    const promtool = requireBinary(ctx, 'promtool', 'promtool check config on dashboards/prometheus/prometheus.yaml');
    const result = spawnSync(promtool, ['check', 'config', `${dir}prometheus/prometheus.yaml`], { encoding: 'utf8' });
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('SUCCESS: 2 rule files found');
    expect(result.stdout).toContain('inferwatch-recording.yaml');
    expect(result.stdout).toContain('inferwatch-alerts.yaml');
  });
});

describe.each(dashboards)('%s says what each number counts', (_file, dashboard) => {
  const panels: Panel[] = allPanels(dashboard).filter((p: Panel) => p.type !== 'row');
  const exprs = (p: Panel) => (p.targets ?? []).map((t) => t.expr);
  // Recorded only at a successful end (docs/metrics.md), so they need no filter.
  const SUCCESS_ONLY = ['gen_ai_server_time_per_output_token', 'inferwatch_request_inference_duration', 'inferwatch_request_decode_duration'];

  it('shows successful requests in every latency panel unless its title says otherwise', () => {
    const latency = panels.filter((p) => exprs(p).some((e) => /_(duration|token|latency)_bucket\{/.test(e)));
    expect(latency.length).toBeGreaterThan(2);
    for (const p of latency) {
      for (const expr of exprs(p)) {
        const metric = /(\w+)_bucket\{/.exec(expr)![1];
        if (metric === 'gen_ai_server_request_duration') expect(expr, p.title).toContain('error_type=""');
        else if (!SUCCESS_ONLY.includes(metric)) expect(p.title, `${p.title} counts more than successes (${metric})`).toMatch(/\(every /);
      }
    }
  });

  it('has a panel of failures and aborts by error.type', () => {
    const failures = panels.filter((p) => exprs(p).some((e) => e.includes('error_type!=""')));
    expect(failures.map((p) => p.title)).toEqual(['Failed and aborted requests by error.type']);
    // Native histograms' counts first, the classic _count series where there are none.
    expect(exprs(failures[0])[0]).toMatch(/^sum by \(error_type\) \(histogram_count\(rate\(gen_ai_server_request_duration\{.* or sum by \(error_type\) \(rate\(gen_ai_server_request_duration_count\{/);
  });

  it('counts each engine once, however many gateway replicas bridge it', () => {
    const engineState = panels.flatMap(exprs).filter((e) => /inferwatch_(scheduler|kv_cache)_/.test(e));
    expect(engineState.length).toBeGreaterThanOrEqual(3);
    for (const expr of engineState) {
      const metric = /inferwatch_(scheduler|kv_cache)_\w+/.exec(expr)![0];
      expect(expr).toContain(`avg by (upstream) (${metric}{job=~"$job", instance=~"$instance", upstream!=""}) or ${metric}{job=~"$job", instance=~"$instance", upstream=""}`);
    }
  });

  it('identifies a GPU by hw.id, never by the instance that reported it', () => {
    const gpu = panels.flatMap(exprs).filter((e) => /\b(hw|inferwatch_gpu)_/.test(e));
    expect(gpu.length).toBeGreaterThanOrEqual(4);
    for (const expr of gpu) {
      expect(expr).toMatch(/^max by \(hw_id, /);
      expect(expr).not.toContain('instance,');
      expect(expr).not.toMatch(/^sum/);
    }
  });
});

describe('the distribution panels', () => {
  it('count at the bounds the SDK’s text view of each metric has, so native and classic draw the same bars', () => {
    const entries = Object.entries(DISTRIBUTION_POWERS as Record<string, number[]>);
    expect(entries.length).toBe(4);
    for (const [metric, powers] of entries) {
      const spec = Object.values(HISTOGRAMS).find((h) => h.name.replaceAll('.', '_') === metric);
      expect(spec, metric).toBeDefined();
      expect(powers).toEqual(Array.from(spec!.powers));
    }
  });
});

describe('the overview dashboard’s SLO panels', () => {
  it('read the series the recording rules keep, follow $job and $model, and their row says they cover every instance and tenant', () => {
    const panels: Panel[] = allPanels(DASHBOARDS['inferwatch-overview.json']);
    const slo = panels.filter((p) => (p.targets ?? []).some((t) => t.expr.includes('job_model:inferwatch_slo_errors:')));
    expect(slo.map((p) => p.title)).toEqual([
      'TTFT: share of first tokens within 1 s (objective 99 %)',
      'Availability: share of requests the server did not fail (objective 99 %)',
      'Error budget left',
      'Burn rate over 1 h (1: the budget lasts the period; 14.4 pages)',
    ]);
    for (const expr of slo.flatMap((p) => p.targets!.map((t) => t.expr))) {
      expect(expr).toMatch(/^max by \(gen_ai_request_model\) \(.*job_model:inferwatch_slo_errors:ratio_rate(30d|1h)\{job=~"\$job", gen_ai_request_model=~"\$model", slo="(ttft|availability)"\}/);
      expect(expr).not.toMatch(/\$instance|\$tenant/);
    }
    const row = panels.find((p) => p.type === 'row' && p.gridPos.y < slo[0].gridPos.y && p.gridPos.y + 1 === slo[0].gridPos.y)!;
    expect(row.title).toBe('SLOs over 30d, per model (recorded rules: every instance and tenant)');
  });
});

describe('the real-time dashboard', () => {
  it('shows event-loop delay and utilization beside time to first token', () => {
    const panels: Panel[] = allPanels(DASHBOARDS['inferwatch-realtime.json']);
    const ttft = panels.find((p) => p.title.startsWith('Time to first token'))!;
    const delay = panels.find((p) => p.title.startsWith('Event-loop delay'))!;
    const utilization = panels.find((p) => p.title === 'Event-loop utilization')!;
    expect(delay.targets!.map((t) => t.expr)).toEqual(['max by (instance) (nodejs_eventloop_delay_max{job=~"$job", instance=~"$instance"})', 'max by (instance) (nodejs_eventloop_delay_p99{job=~"$job", instance=~"$instance"})']);
    expect(utilization.targets!.map((t) => t.expr)).toEqual(['max by (instance) (nodejs_eventloop_utilization{job=~"$job", instance=~"$instance"})']);
    for (const p of [delay, utilization]) {
      expect(p.gridPos.y).toBe(ttft.gridPos.y);
      expect(p.gridPos.x).toBeGreaterThanOrEqual(ttft.gridPos.x + ttft.gridPos.w);
    }
  });
});
