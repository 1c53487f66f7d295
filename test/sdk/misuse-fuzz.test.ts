import { describe, expect, it, vi } from 'vitest';
import { diag } from '@opentelemetry/api';
import { createLlmMetrics, type RequestHandle } from '@inferwatch/sdk';
import { collect } from '../helpers/collect.js';
import { seeded as prng } from '../../packages/loadgen/src/random.js';

type State = 'waiting' | 'running' | 'swapped' | 'ended';
interface Model {
  handle: RequestHandle;
  state: State;
  first: boolean;
  lastAt: number;
}
const REASONS = ['stop', 'length', 'tool_calls', 'content_filter', 'other', 'abort', 'error'];

describe('misuse fuzz', () => {
  it('never throws and keeps every counter equal to what the valid calls imply', async () => {
    const random = prng(20261128);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
    let now = 0;
    const llm = createLlmMetrics({ log: false, clock: () => now });
    const warn = vi.spyOn(diag, 'warn');

    const misuse: Record<string, number> = {};
    const finished: Record<string, number> = {};
    let outputTokens = 0;
    const bad = (reason: string) => (misuse[reason] = (misuse[reason] ?? 0) + 1);
    const live: Model[] = [];
    const all: Model[] = [];

    /** The timestamp rule: finite and not before the request's previous valid event. */
    const timeOk = (m: Model, at: number | undefined) => {
      const t = at === undefined ? now : at;
      if (!(t >= m.lastAt) || t === Infinity) return bad('invalid_timestamp'), false;
      m.lastAt = t;
      return true;
    };
    const close = (m: Model, at: number | undefined, reason: string) => {
      timeOk(m, at);
      m.state = 'ended';
      finished[reason] = (finished[reason] ?? 0) + 1;
    };
    const wrongState = (m: Model) => bad(m.state === 'ended' ? 'after_end' : 'out_of_order');
    const tokens = (m: Model, n: unknown, at: number | undefined) => {
      if (m.state === 'ended' || m.state === 'swapped') return wrongState(m);
      if (!(typeof n === 'number' && n >= 0 && Number.isSafeInteger(n))) return bad('invalid_number');
      if (!timeOk(m, at) || n === 0) return;
      m.first = true;
      m.state = 'running';
      outputTokens += n;
    };

    for (let step = 0; step < 60_000; step++) {
      now += 1;
      const at = pick([undefined, undefined, now, now, NaN, Infinity, -5, now - 3]);
      if (live.length === 0 || random() < 0.15) {
        const info = pick<unknown>([{ model: pick(['a', 'b', 'c']) }, { model: 'a', promptTokens: 3 }, null, {}, { model: 42 }, { model: 'b', promptTokens: -1 }]);
        const valid = typeof info === 'object' && info !== null && typeof (info as { model?: unknown }).model === 'string';
        if (!valid) bad('invalid_argument');
        if ((info as { promptTokens?: number } | null)?.promptTokens === -1) bad('invalid_number');
        const m: Model = { handle: llm.startRequest(info as never), state: 'waiting', first: false, lastAt: now };
        live.push(m);
        all.push(m);
        continue;
      }
      const m = pick(live);
      const h = m.handle;
      switch (pick(['scheduled', 'firstToken', 'tokens', 'tokens', 'tokens', 'preempted', 'resumed', 'end', 'fail', 'abort'])) {
        case 'scheduled':
          h.scheduled(at);
          if (m.state !== 'waiting') wrongState(m);
          else if (timeOk(m, at)) m.state = 'running';
          break;
        case 'firstToken':
          h.firstToken(at);
          if (m.first) wrongState(m);
          else tokens(m, 1, at);
          break;
        case 'tokens': {
          const n = pick<unknown>([1, 1, 3, 0, -1, NaN, Infinity, 1.5, '2', 2 ** 60]);
          h.tokens(n as number, at);
          tokens(m, n, at);
          break;
        }
        case 'preempted':
          h.preempted(at);
          if (m.state !== 'running') wrongState(m);
          else if (timeOk(m, at)) m.state = 'swapped';
          break;
        case 'resumed':
          h.resumed(at);
          if (m.state !== 'swapped') wrongState(m);
          else if (timeOk(m, at)) m.state = 'running';
          break;
        case 'end': {
          const options = pick<unknown>([undefined, null, { finishReason: pick([undefined, 'stop', 'length', 'weird', 'abort', 'error']), at, outputTokens: pick([undefined, -3]) }]);
          h.end(options as never);
          if (m.state === 'ended') {
            bad('after_end');
            break;
          }
          const o = (typeof options === 'object' && options !== null ? options : {}) as { finishReason?: string; at?: number; outputTokens?: number };
          let reason = o.finishReason === undefined ? 'stop' : REASONS.includes(o.finishReason) ? o.finishReason : 'other';
          // Reserved for abort() and fail(): misuse, and the request ends as `other`.
          if (reason === 'abort' || reason === 'error') {
            bad('invalid_argument');
            reason = 'other';
          }
          if (o.outputTokens !== undefined) bad('invalid_number');
          close(m, o.at, reason);
          break;
        }
        case 'fail':
          h.fail(pick([new Error('x'), 'timeout', undefined, { code: 503 }]), { at });
          if (m.state === 'ended') bad('after_end');
          else close(m, at, 'error');
          break;
        case 'abort':
          h.abort({ at });
          if (m.state === 'ended') bad('after_end');
          else close(m, at, 'abort');
          break;
      }
      if (m.state === 'ended' && random() < 0.7) live.splice(live.indexOf(m), 1);
    }

    const m = await collect(llm.producer);
    const total = (name: string, filter: (a: Record<string, unknown>) => boolean = () => true) =>
      (m.metric(name)?.dataPoints ?? []).filter((p) => filter(p.attributes)).reduce((sum, p) => sum + (typeof p.value === 'number' ? p.value : (p.value as { count: number }).count), 0);

    for (const reason of REASONS) {
      expect(total('inferwatch.requests.finished', (a) => a.finish_reason === reason), reason).toBe(finished[reason] ?? 0);
    }
    const ended = all.filter((x) => x.state === 'ended').length;
    expect(total('gen_ai.server.request.duration')).toBe(ended);
    expect(total('inferwatch.tokens', (a) => a['gen_ai.token.type'] === 'output')).toBe(outputTokens);
    for (const state of ['waiting', 'running', 'swapped'] as const) {
      expect(total(`inferwatch.scheduler.${state}`), state).toBe(all.filter((x) => x.state === state).length);
    }
    for (const reason of ['invalid_number', 'invalid_timestamp', 'after_end', 'out_of_order', 'invalid_argument']) {
      expect(total('inferwatch.sdk.misuse', (a) => a.reason === reason), reason).toBe(misuse[reason] ?? 0);
    }
    expect(Object.values(misuse).every((n) => n > 100)).toBe(true);
    // One warning per kind of misuse, however often it happened.
    expect(warn).toHaveBeenCalledTimes(Object.keys(misuse).length);
    warn.mockRestore();
  });
});
