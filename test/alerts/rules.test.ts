import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { HISTOGRAMS } from '../../packages/sdk/src/record/catalog.js';
// @ts-expect-error: plain JavaScript
import { loadSlo, renderRules, ruleGroups, RULES_DIR, SLO_FILE, TTFT_CLASSIC_BOUNDS, TTFT_POWER_BOUNDS } from '../../dashboards/generate-rules.mjs';
import { requireBinary, systemBinary } from '../helpers/binaries.js';

const TESTS_DIR = fileURLToPath(new URL('../../dashboards/prometheus/tests/', import.meta.url));
const RUNBOOK = readFileSync(new URL('../../docs/alerts.md', import.meta.url), 'utf8');
const RULE_FILES = ['inferwatch-recording.yaml', 'inferwatch-alerts.yaml'];
const TEST_FILES = readdirSync(TESTS_DIR).filter((f) => f.endsWith('.test.yaml'));
const promtoolTests = systemBinary('promtool', 'promtool test rules on dashboards/prometheus/tests');

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface TestGroup {
  name: string;
  promql_expr_test?: { expr: string }[];
  alert_rule_test?: { eval_time: string; alertname: string; exp_alerts: unknown[] }[];
}
const rules: Rule[] = RULE_FILES.flatMap((f) => (parse(readFileSync(join(RULES_DIR, f), 'utf8')).groups as { rules: Rule[] }[]).flatMap((g) => g.rules));
const records = [...new Set(rules.flatMap((r) => (r.record ? [r.record] : [])))];
const alerts = [...new Set(rules.flatMap((r) => (r.alert ? [r.alert] : [])))];
const testGroups = Object.fromEntries(TEST_FILES.map((f) => [f, (parse(readFileSync(join(TESTS_DIR, f), 'utf8')).tests as TestGroup[])]));
const allGroups = Object.values(testGroups).flat();

/** Runs promtool; resolves to its exit code and everything it printed. */
function promtool(binary: string, args: string[], cwd?: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(binary, args, { cwd, encoding: 'utf8', maxBuffer: 16 * 2 ** 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('the rules are generated from dashboards/prometheus/slo.yaml', () => {
  it('the committed rule files are what dashboards/generate-rules.mjs writes', () => {
    for (const [file, text] of Object.entries(renderRules() as Record<string, string>)) {
      expect(readFileSync(join(RULES_DIR, file), 'utf8'), file).toBe(text);
    }
  });

  it('knows the SDK’s classic TTFT bounds: its explicit buckets and the powers of two of its native histograms’ classic view', () => {
    expect(TTFT_CLASSIC_BOUNDS).toEqual([...HISTOGRAMS.timeToFirstToken.buckets]);
    expect(TTFT_POWER_BOUNDS).toEqual([...HISTOGRAMS.timeToFirstToken.powers].map((p) => 2 ** p));
  });

  it.each([2, 2.5, 0.3])('refuses a TTFT threshold of %s s, which some classic histogram the SDK writes cannot be cut at', (threshold) => {
    const dir = mkdtempSync(join(tmpdir(), 'inferwatch-slo-'));
    scratch.push(dir);
    const file = join(dir, 'slo.yaml');
    writeFileSync(file, readFileSync(SLO_FILE, 'utf8').replace(/threshold_seconds: [\d.]+/, `threshold_seconds: ${threshold}`));
    expect(() => loadSlo(file)).toThrow(/pick one of 0\.25, 0\.5, 1/);
  });

  it('derives every alert’s window, burn factor and minimum from the file', () => {
    const slo = loadSlo();
    const burns = rules.filter((r) => r.alert === 'InferwatchErrorBudgetBurn');
    expect(burns.map((r) => [r.labels!.long, r.labels!.short, r.labels!.severity, r.for])).toEqual(slo.burn_rates.map((b: Record<string, string>) => [b.long, b.short, b.severity, b.for]));
    // The minimum keeps one bad request under each pair's rate: 1 / (factor x 1 %) requests, or 20.
    expect(burns.map((r) => Number(/>= (\d+)$/.exec(r.expr)![1]))).toEqual([20, 20, 34, 101]);
  });

  it('the test-only rules keep every name and shorten every window, `for` and interval 30 times', () => {
    const shipped = ruleGroups(loadSlo());
    const short = ruleGroups(loadSlo(), { timeScale: 1 / 30 });
    const flat = (g: { recording: { rules: Rule[] }[]; alerting: { rules: Rule[] }[] }) => [...g.recording, ...g.alerting].flatMap((x) => x.rules);
    expect(flat(short).map((r) => r.record ?? r.alert)).toEqual(flat(shipped).map((r) => r.record ?? r.alert));
    expect(short.alerting[0].interval).toBe('1s');
    const burn = flat(short).find((r) => r.alert === 'InferwatchErrorBudgetBurn')!;
    expect(burn.for).toBe('4s');
    expect(burn.expr).toContain('job_model:inferwatch_slo_requests:rate1h{slo="availability"} * 120 >= 20');
    expect(flat(short).find((r) => r.record === 'job_model:inferwatch_slo_errors:ratio_rate1h')!.expr).toContain('[2m]');
  });
});

// promtool runs as a child process: the cases of a block run side by side.
describe.concurrent('promtool', () => {
  it('accepts the shipped rules and the test-only ones', async (ctx) => {
    const binary = requireBinary(ctx, 'promtool', 'promtool check rules on dashboards/prometheus/rules');
    const checked = await promtool(binary, ['check', 'rules', ...RULE_FILES.map((f) => join(RULES_DIR, f))]);
    expect(checked.code, checked.output).toBe(0);
    expect(checked.output).toContain(`SUCCESS: ${rules.filter((r) => r.record).length} rules found`);
    expect(checked.output).toContain(`SUCCESS: ${rules.filter((r) => r.alert).length} rules found`);
    const dir = mkdtempSync(join(tmpdir(), 'inferwatch-rules-'));
    scratch.push(dir);
    for (const [file, text] of Object.entries(renderRules(loadSlo(), { timeScale: 1 / 30 }) as Record<string, string>)) writeFileSync(join(dir, file), text);
    const short = await promtool(binary, ['check', 'rules', ...RULE_FILES.map((f) => join(dir, f))]);
    expect(short.code, short.output).toBe(0);
  });

  it.skipIf(promtoolTests === undefined).each(TEST_FILES)('test rules %s', async (file) => {
    const { code, output } = await promtool(promtoolTests!, ['test', 'rules', file], TESTS_DIR);
    expect(code, output).toBe(0);
    expect(output).toContain('SUCCESS');
  }, 120_000);
});

describe('the promtool tests cover every rule', () => {
  const exprs = allGroups.flatMap((g) => (g.promql_expr_test ?? []).map((t) => t.expr));
  const named = (record: string) =>
    exprs.some((e) => new RegExp(`\\b${record.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`).test(e) || [...e.matchAll(/__name__=~"([^"]+)"/g)].some((m) => new RegExp(`^(?:${m[1]})$`).test(record)));

  it.each(records)('recording rule %s is read by a promql_expr_test', (record) => {
    expect(named(record)).toBe(true);
  });

  it.each(alerts)('%s has a case where it fires and one where it must not, and a runbook section', (alert) => {
    const cases = allGroups.flatMap((g) => (g.alert_rule_test ?? []).filter((t) => t.alertname === alert));
    expect(cases.some((c) => c.exp_alerts.length > 0), 'a firing case').toBe(true);
    expect(cases.some((c) => c.exp_alerts.length === 0), 'a silent case').toBe(true);
    for (const rule of rules.filter((r) => r.alert === alert)) {
      expect(rule.annotations!.summary).toBeTruthy();
      expect(rule.annotations!.description).toContain('$value');
      expect(['page', 'ticket']).toContain(rule.labels!.severity);
      const anchor = rule.annotations!.runbook_url.split('#')[1];
      expect(anchor).toBe(alert.toLowerCase());
      // GitHub's anchor for the heading `### InferwatchX` is `inferwatchx`.
      expect(RUNBOOK).toMatch(new RegExp(`^### ${alert}$`, 'm'));
    }
  });

  it.each(testGroups['quiet.test.yaml'])('“$name” expects every alert silent', (group) => {
    const silent = new Set((group.alert_rule_test ?? []).filter((t) => t.exp_alerts.length === 0).map((t) => t.alertname));
    expect([...silent].sort()).toEqual([...alerts].sort());
  });
});

/**
 * The rules with one of the naive mistakes put back, and the promtool cases that must then fail: each
 * silent case is silent because of the rule it guards, not by accident.
 */
const MUTANTS: { mistake: string; mutate: (text: string) => string; cases: [file: string, group: string, failing: string][] }[] = [
  {
    mistake: 'no minimum of requests',
    mutate: (text) => text.replace(/\n *and on \([^)]*\)\n *job_model:inferwatch_(slo_requests:rate\w+\{slo="\w+"\}|requests:rate5m) \* \d+ >= \d+/g, ''),
    cases: [
      ['slo-alerts.test.yaml', 'single slow request at night', 'alertname: InferwatchTTFTBudgetBurn'],
      ['quiet.test.yaml', 'quiet: single slow request at night', 'alertname: InferwatchTTFTBudgetBurn'],
      ['alerts.test.yaml', 'queue at night', 'alertname: InferwatchQueueTimeHigh'],
    ],
  },
  {
    mistake: 'a bridged engine summed over the gateway replicas',
    mutate: (text) => text.replaceAll('avg by (job, upstream)', 'sum by (job, upstream)'),
    cases: [
      ['quiet.test.yaml', 'quiet: two replicas bridging one engine', 'alertname: InferwatchKVCacheFullPreempting'],
      ['alerts.test.yaml', 'stalled engine behind two replicas', 'alertname: InferwatchEngineStalled'],
      ['recording.test.yaml', 'engine state counted once', 'expr: "engine:inferwatch_scheduler_running:current"'],
    ],
  },
  {
    mistake: 'a bridged engine taken at its highest replica',
    mutate: (text) => text.replaceAll('avg by (job, upstream)', 'max by (job, upstream)'),
    cases: [
      ['alerts.test.yaml', 'KV cache full and preempting', 'alertname: InferwatchKVCacheFullPreempting'],
      ['alerts.test.yaml', 'stalled engine behind two replicas', 'alertname: InferwatchEngineStalled'],
    ],
  },
  {
    mistake: 'client cancellations counted as the server’s errors',
    mutate: (text) => text.replaceAll('cancelled|4(?:', '4(?:'),
    cases: [
      ['slo-alerts.test.yaml', 'aborted burst and client errors', 'alertname: InferwatchErrorBudgetBurn'],
      ['quiet.test.yaml', 'quiet: one aborted burst', 'alertname: InferwatchErrorBudgetBurn'],
    ],
  },
  {
    mistake: 'E2E quantiles over aborted requests too',
    mutate: (text) => text.replaceAll('gen_ai_server_request_duration{error_type=""}', 'gen_ai_server_request_duration').replaceAll('gen_ai_server_request_duration_bucket{error_type=""}', 'gen_ai_server_request_duration_bucket'),
    cases: [['recording.test.yaml', 'quantiles of successful requests', 'expr: "job_model:gen_ai_server_request_duration:quantile5m"']],
  },
];

describe.skipIf(promtoolTests === undefined)('the naive mistakes', () => {
  describe.concurrent.each(MUTANTS)('with $mistake', ({ mutate, cases }) => {
    it.each(cases)('%s › “%s” fails (%s)', async (file, group, failing) => {
      const dir = mkdtempSync(join(tmpdir(), 'inferwatch-mutant-'));
      scratch.push(dir);
      mkdirSync(join(dir, 'rules'));
      mkdirSync(join(dir, 'tests'));
      // The one case alone, beside the rules as shipped, then as mutated. Cut from the text, not parsed
      // and written again: YAML 1.2 reads promtool's `0x30` (0, 30 times) as the number 48.
      const [head, ...groups] = readFileSync(join(TESTS_DIR, file), 'utf8').split(/^(?= {2}- name: )/m);
      const kept = groups.filter((g) => g.startsWith(`  - name: ${JSON.stringify(group)}\n`));
      expect(kept).toHaveLength(1);
      writeFileSync(join(dir, 'tests', file), head + kept[0]);
      const shipped = RULE_FILES.map((f) => readFileSync(join(RULES_DIR, f), 'utf8'));
      RULE_FILES.forEach((f, i) => writeFileSync(join(dir, 'rules', f), shipped[i]));
      const before = await promtool(promtoolTests!, ['test', 'rules', file], join(dir, 'tests'));
      expect(before.code, before.output).toBe(0);
      const mutated = shipped.map(mutate);
      expect(mutated, 'the mutation changed nothing').not.toEqual(shipped);
      RULE_FILES.forEach((f, i) => writeFileSync(join(dir, 'rules', f), mutated[i]));
      const { code, output } = await promtool(promtoolTests!, ['test', 'rules', file], join(dir, 'tests'));
      expect(code, output).toBe(1);
      expect(output).toContain(failing);
    }, 120_000);
  });
});
