import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLlmMetrics, startMetrics, type RunningMetrics } from '@inferwatch/sdk';
import { requireBinary } from '../helpers/binaries.js';
import { serve } from '../helpers/net.js';

/**
 * Any attribute key or value a host passes must still give an exposition Prometheus accepts:
 * keys are sanitized where they enter (the OTel Prometheus exporter's rule: characters outside
 * [a-zA-Z0-9_] become `_`, runs of `_` collapse, plus `key_` before a leading digit).
 */

let running: RunningMetrics | undefined;
afterAll(() => running?.shutdown());

const HOSTILE_KEYS = ['0starts', 'a-b', 'a b', 'a.b', 'ünï', '__name__', '', ' ', '9', 'x'.repeat(500), 'constructor', '__proto__', 'le', 'quote"key', 'new\nline'];
const HOSTILE_VALUES = ['plain', 'quote"d', 'back\\slash', 'new\nline', '\ud800 lone surrogate', '😀', '', 'x'.repeat(1000), '} 1\nfake_metric 2'];

async function exposition(): Promise<string> {
  const llm = createLlmMetrics({ log: false });
  HOSTILE_KEYS.forEach((key, i) => {
    llm.reportEngineState({ running: i, attributes: { [key]: HOSTILE_VALUES[i % HOSTILE_VALUES.length], upstream: `u${i}` } });
  });
  llm.reportEngineState({ waiting: 1, attributes: Object.fromEntries(HOSTILE_KEYS.map((k, i) => [k, HOSTILE_VALUES[i % HOSTILE_VALUES.length]])) });
  llm.observeEngineState(() => [{ gpuKvCacheUsage: 0.5, attributes: { '1-2-3': 'x', 'a..b': 'y\n' } }]);
  for (const model of HOSTILE_VALUES) llm.startRequest({ model, operation: model, provider: model }).end();
  const resourceAttributes = Object.fromEntries(HOSTILE_KEYS.map((k, i) => [k, HOSTILE_VALUES[i % HOSTILE_VALUES.length]]));
  running = startMetrics({ llm, meterProvider: 'private', resourceAttributes: { ...resourceAttributes, 'deployment.environment': 'prod', service_name: 'clash', 'a_b': 'clash' } });
  const app = await serve((req, res) => running!.metricsHandler(req, res));
  try {
    return await (await fetch(app.url)).text();
  } finally {
    await app.close();
  }
}

describe('label names from hostile attribute keys', () => {
  let text: string;
  beforeAll(async () => {
    text = await exposition();
  });

  it('are valid Prometheus label names', () => {
    const labelNames = new Set<string>();
    for (const line of text.split('\n')) {
      if (!line.startsWith('inferwatch_scheduler_') && !line.startsWith('inferwatch_kv_cache_')) continue;
      const body = line.slice(line.indexOf('{') + 1, line.lastIndexOf('}'));
      for (const match of body.matchAll(/(?:^|,)([^=,]+)="/g)) labelNames.add(match[1]);
    }
    for (const name of labelNames) expect(name).toMatch(/^[a-zA-Z_][a-zA-Z0-9_]*$/);
    expect(labelNames).toContain('key_0starts');
    expect(labelNames).toContain('key_1_2_3');
    expect(labelNames).toContain('a_b');
    expect(labelNames).toContain('key_le');
    expect(text).toContain('key_0starts="plain"');
    // Resource attributes (target_info) keep their dots, which writers map to `_`.
    const target = text.split('\n').find((l) => l.startsWith('target_info{'));
    expect(target).toContain('deployment_environment="prod"');
    expect(target).toContain('key_0starts="plain"');
  });

  it('give an exposition promtool accepts', (ctx) => {
    const promtool = requireBinary(ctx, 'promtool', 'promtool check metrics on an exposition from hostile attributes');
    const lint = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(lint.stdout + lint.stderr).toBe('');
    expect(lint.status).toBe(0);
  });
});
