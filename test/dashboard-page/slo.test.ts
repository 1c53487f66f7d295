import { afterEach, describe, expect, it } from 'vitest';
import { createLlmMetrics, startMetrics, type RunningMetrics } from '@inferwatch/sdk';
import { indexSnapshot, sloStatus } from '../../packages/sdk/page/derive.js';
import type { Snapshot } from '../../packages/sdk/src/export/snapshot-types.js';
import { serve } from '../helpers/net.js';

interface Case {
  ttft?: number;
  /** The request's failure, as the server reports it; none for a success. */
  fail?: string;
}

// Times to first token well away from the thresholds below (1 s, 0.3 s and 0.25 s), so that counting each
// request against a threshold is exact: no request shares the threshold's native bucket.
const TTFTS = [0.05, 0.12, 0.2, 0.45, 0.8, 0.95, 1.4, 2.5, 0.07, 0.6];
const CASES: Case[] = [
  ...Array.from({ length: 60 }, (_, i) => ({ ttft: TTFTS[i % TTFTS.length] })),
  // Failed after a first token, and before one.
  { ttft: 0.2, fail: '500' },
  { fail: '500' },
  { fail: '503' },
  { fail: '429' },
  // Not eligible for availability: a client cancelled, a client's bad request.
  { ttft: 0.1, fail: 'cancelled' },
  { fail: 'cancelled' },
  { fail: '404' },
  { fail: '400' },
];

const running: { metrics: RunningMetrics; close: () => Promise<void> }[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    await r.close();
    await r.metrics.shutdown();
  }
});

/** The cases recorded with explicit timestamps in `mode`, and the page's snapshot of them through dashboardHandler. */
async function snapshotOf(mode: 'native' | 'classic', model = 'm'): Promise<Snapshot> {
  let now = 1_000_000;
  const llm = createLlmMetrics({ log: false, clock: () => now, histograms: mode });
  for (const c of CASES) {
    const r = llm.startRequest({ model, at: now });
    if (c.ttft !== undefined) r.firstToken(now + c.ttft * 1000);
    now += 3000;
    if (c.fail === 'cancelled') r.abort({ at: now });
    else if (c.fail !== undefined) r.fail({ code: c.fail }, { at: now });
    else r.end({ at: now, outputTokens: 10 });
  }
  const metrics = startMetrics({ llm, prometheus: false, otlp: false, meterProvider: false, runtime: false });
  const server = await serve(metrics.dashboardHandler);
  running.push({ metrics, close: server.close });
  return (await (await fetch(`${server.url}/dashboard/snapshot`)).json()) as Snapshot;
}

describe('the live page’s SLO status, since start', () => {
  it.each(['native', 'classic'] as const)('%s: TTFT compliance and availability are the requests’ own shares, and the budget what is left of 1 − objective', async (mode) => {
    const indexed = indexSnapshot(await snapshotOf(mode));
    // Native buckets are narrow enough that 0.3 s holds no request; a classic threshold must be one of its bounds (0.25 s).
    for (const threshold of mode === 'native' ? [1, 0.3] : [1, 0.25]) {
      const status = sloStatus(indexed, () => true, { ttft: { objective: 0.9, thresholdSeconds: threshold }, availability: { objective: 0.95 } });
      const withFirstToken = CASES.filter((c) => c.ttft !== undefined);
      const good = withFirstToken.filter((c) => c.ttft! <= threshold).length;
      expect(status.ttft!.total).toBe(withFirstToken.length);
      expect(status.ttft!.compliance).toBeCloseTo(good / withFirstToken.length, 12);
      expect(status.ttft!.budgetLeft).toBeCloseTo(1 - (1 - good / withFirstToken.length) / 0.1, 12);

      const eligible = CASES.filter((c) => c.fail === undefined || !(c.fail === 'cancelled' || (/^4/.test(c.fail) && c.fail !== '429')));
      const failed = eligible.filter((c) => c.fail !== undefined).length;
      expect(status.availability!.total).toBe(eligible.length);
      expect(status.availability!.compliance).toBeCloseTo((eligible.length - failed) / eligible.length, 12);
      expect(status.availability!.budgetLeft).toBeCloseTo(1 - failed / eligible.length / 0.05, 12);
    }
  });

  it('counts only the models the page selects, and says nothing without requests', async () => {
    const indexed = indexSnapshot(await snapshotOf('native', 'a'));
    const none = sloStatus(indexed, (a) => a['gen_ai.request.model'] === 'b', { ttft: { objective: 0.99, thresholdSeconds: 1 }, availability: { objective: 0.99 } });
    expect(none).toEqual({ ttft: { objective: 0.99, compliance: null, budgetLeft: null, total: 0 }, availability: { objective: 0.99, compliance: null, budgetLeft: null, total: 0 } });
    expect(sloStatus(indexed, () => true, {})).toEqual({});
  });
});
