import fc from 'fast-check';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createClientMetrics, createLlmMetrics, startMetrics, trackStream, type RequestHandle } from '@inferwatch/sdk';
import { tapResponse } from '@inferwatch/sdk/internal';
import { instrumentAiSdk, instrumentOpenAI } from '@inferwatch/client';
import { collect } from '../helpers/collect.js';

/**
 * A seeded property-based fuzz of every public entry point. It asserts that no call throws into
 * the caller and that the exported counters equal what an oracle computes from the rules of
 * docs/metrics.md and the SDK README (written from those rules, not from the implementation):
 *
 * - a request is counted once in inferwatch.requests.finished and in the request-duration count,
 *   at end() (its finish reason: stop by default, stop/length/tool_calls/content_filter/abort/error
 *   as given, anything else `other`), fail() (`error`) or abort() (`abort`);
 * - a call in the wrong order, after the end, with a count that is not a non-negative integer, or
 *   with a timestamp that is not a finite number at or after the request's previous event, is
 *   ignored and counted once in inferwatch.sdk.misuse; end/fail/abort still close the request;
 * - waiting = started, not scheduled, no first token; running = scheduled or past its first token,
 *   not ended; swapped = preempted and not resumed;
 * - output tokens count at every valid token call and are topped up at a successful end() that
 *   reports more; input tokens count once prefill is done (first token or successful end), topped
 *   up at a successful end() that reports more.
 * - an argument that is not what the API takes (or whose getters throw) counts as not given.
 *
 * A failure prints the seed and the shrunk counterexample; rerun with the same seed to replay it.
 */

const SEED = 20261129;
let operations = 0;
afterAll(() => {
  // The bar: at least 100 000 generated operations per run of this file.
  console.log(`fuzz: ${operations} operations`);
  expect(operations).toBeGreaterThanOrEqual(100_000);
});

// ---------------------------------------------------------------------------------------------
// Hostile values

const thrower = () => {
  throw new Error('hostile');
};
function hostileObject(): object {
  return Object.defineProperties({}, {
    toString: { value: thrower },
    valueOf: { value: thrower },
    model: { get: thrower, enumerable: true },
    code: { get: thrower, enumerable: true },
    name: { get: thrower, enumerable: true },
    at: { get: thrower, enumerable: true },
    finishReason: { get: thrower, enumerable: true },
    attributes: { get: thrower, enumerable: true },
    format: { get: thrower, enumerable: true },
    usage: { get: thrower, enumerable: true },
  });
}
function throwingProxy(): object {
  const traps = ['get', 'has', 'ownKeys', 'getPrototypeOf', 'getOwnPropertyDescriptor', 'set', 'apply', 'construct'];
  return new Proxy(function () {}, Object.fromEntries(traps.map((t) => [t, thrower])));
}
function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}
const HUGE = 'x'.repeat(200_000);

/**
 * Stands for a hostile object in what fast-check generates (fast-check itself inspects generated
 * values, which a throwing proxy would break); `real()` makes the object just before the SDK gets it.
 */
class Hostile {
  constructor(readonly kind: 'object' | 'proxy' | 'revoked') {}
}
/** A plain object (fast-check also makes ones without a prototype). */
function isRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
function real(value: unknown): unknown {
  if (value instanceof Hostile) return value.kind === 'object' ? hostileObject() : value.kind === 'proxy' ? throwingProxy() : revokedProxy();
  if (Array.isArray(value)) return value.map(real);
  if (isRecord(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, real(v)]));
  }
  return value;
}

/** Values an attacker or a buggy caller could pass anywhere. */
const hostile = fc.oneof(
  fc.constantFrom<unknown>(undefined, null, NaN, Infinity, -Infinity, -1, 0, 1.5, 2 ** 60, -0, '', '2', HUGE, true, Symbol('s'), 10n, [], [1, 2]),
  fc.constantFrom(new Hostile('object'), new Hostile('proxy'), new Hostile('revoked')),
  fc.string({ maxLength: 40 }),
  fc.integer({ min: -3, max: 1000 }),
  fc.double(),
  fc.anything({ maxDepth: 2 }),
);

// ---------------------------------------------------------------------------------------------
// The recorder and its handles, against the oracle

const REASONS = ['stop', 'length', 'tool_calls', 'content_filter', 'other', 'abort', 'error'] as const;
type State = 'waiting' | 'running' | 'swapped' | 'ended';

/** A timestamp as the test draws it: relative to the request's last event, so both sides of the rule come up. */
type AtSpec = { kind: 'none' } | { kind: 'forward'; by: number } | { kind: 'back'; by: number } | { kind: 'value'; value: unknown };
const atSpec: fc.Arbitrary<AtSpec> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<AtSpec>({ kind: 'none' }) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 5 }).map((by): AtSpec => ({ kind: 'forward', by })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 5 }).map((by): AtSpec => ({ kind: 'back', by })) },
  { weight: 1, arbitrary: hostile.map((value): AtSpec => ({ kind: 'value', value })) },
);

type Info = { kind: 'plain'; model: unknown; promptTokens: unknown; at: AtSpec; operation: unknown; attributes: unknown } | { kind: 'value'; value: unknown };
/** The recorder below declares `tenant` (2 values): every other key is undeclared. */
const TENANT_LIMIT = 2;
const requestAttributes = fc.oneof(
  { weight: 6, arbitrary: fc.constant<unknown>(undefined) },
  { weight: 4, arbitrary: fc.constantFrom<unknown>('x', 'y', 'z', '', undefined, 7, HUGE).map((tenant): unknown => ({ tenant })) },
  { weight: 1, arbitrary: fc.record({ tenant: fc.constantFrom<unknown>('x', 'w'), team: hostile }) },
  { weight: 2, arbitrary: hostile },
);
const info: fc.Arbitrary<Info> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('plain' as const),
      model: fc.oneof({ weight: 5, arbitrary: fc.constantFrom<unknown>('a', 'b', 'c') }, { weight: 1, arbitrary: hostile }),
      promptTokens: fc.oneof({ weight: 3, arbitrary: fc.constantFrom<unknown>(undefined, 0, 7, 100) }, { weight: 1, arbitrary: hostile }),
      at: atSpec,
      operation: fc.oneof({ weight: 5, arbitrary: fc.constant<unknown>(undefined) }, { weight: 1, arbitrary: hostile }),
      attributes: requestAttributes,
    }),
  },
  { weight: 1, arbitrary: hostile.map((value): Info => ({ kind: 'value', value })) },
);

const count = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 4 }).map((n): unknown => n) }, { weight: 1, arbitrary: hostile });
const endOptions = fc.oneof(
  { weight: 4, arbitrary: fc.constant<unknown>(undefined) },
  {
    weight: 4,
    arbitrary: fc.record(
      {
        finishReason: fc.oneof(fc.constantFrom<unknown>(...REASONS, 'weird', undefined), hostile),
        outputTokens: fc.oneof(fc.constantFrom<unknown>(undefined, 0, 3, 50), hostile),
        promptTokens: fc.oneof(fc.constantFrom<unknown>(undefined, 0, 3, 500), hostile),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: hostile },
);

type Call =
  | { op: 'start'; info: Info }
  | { op: 'scheduled' | 'firstToken' | 'preempted' | 'resumed' | 'abort'; target: number; at: AtSpec }
  | { op: 'tokens'; target: number; n: unknown; omitN: boolean; at: AtSpec }
  | { op: 'end'; target: number; options: unknown; at: AtSpec }
  | { op: 'fail'; target: number; error: unknown; at: AtSpec }
  | { op: 'shutdown' };

const target = fc.nat(40);
const call: fc.Arbitrary<Call> = fc.oneof(
  { weight: 60, arbitrary: info.map((i): Call => ({ op: 'start', info: i })) },
  { weight: 40, arbitrary: fc.record({ op: fc.constantFrom('scheduled' as const, 'firstToken' as const, 'preempted' as const, 'resumed' as const, 'abort' as const), target, at: atSpec }) },
  { weight: 100, arbitrary: fc.record({ op: fc.constant('tokens' as const), target, n: count, omitN: fc.boolean(), at: atSpec }) },
  { weight: 20, arbitrary: fc.record({ op: fc.constant('end' as const), target, options: endOptions, at: atSpec }) },
  { weight: 20, arbitrary: fc.record({ op: fc.constant('fail' as const), target, error: hostile, at: atSpec }) },
  { weight: 1, arbitrary: fc.constant<Call>({ op: 'shutdown' }) },
);

interface Model {
  handle: RequestHandle;
  state: State;
  first: boolean;
  lastAt: number;
  prompt: number;
  promptCounted: number;
  output: number;
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

async function runRecorder(calls: Call[]): Promise<void> {
  let now = 1000;
  const llm = createLlmMetrics({ log: false, clock: () => now, attributes: { tenant: { maxValues: TENANT_LIMIT } } });
  const requests: Model[] = [];
  const finished: Record<string, number> = {};
  let misuse = 0;
  let outputTokens = 0;
  let inputTokens = 0;

  const resolveAt = (m: Model | undefined, spec: AtSpec): unknown => {
    const base = m?.lastAt ?? now;
    if (spec.kind === 'none') return undefined;
    if (spec.kind === 'forward') return base + spec.by;
    if (spec.kind === 'back') return base - spec.by;
    return spec.value;
  };
  /**
   * What fail()/abort() read as their timestamp when handed a bare value: an object's `at` (a hostile
   * object or revoked proxy reads as none, as end()'s options do), else the value itself (a proxy of a
   * function is a function).
   */
  /** The `at` of outcome options passed bare: an object's `at`, else none; anything but an object (a number included) is misuse. */
  const outcomeAt = (at: unknown): unknown => {
    if (at === undefined) return undefined;
    // A hostile object's `at` getter throws, and a revoked proxy cannot be read: no options. A throwing proxy is a function: misuse.
    if (at instanceof Hostile) {
      if (at.kind === 'proxy') misuse++;
      return undefined;
    }
    if (typeof at !== 'object' || at === null || Array.isArray(at)) {
      misuse++;
      return undefined;
    }
    return (at as { at?: unknown }).at;
  };
  /** The timestamp rule; a valid time becomes the request's last event. */
  const timeOk = (m: Model, at: unknown): boolean => {
    const t = at === undefined ? now : at;
    if (typeof t !== 'number' || !(t >= m.lastAt) || t === Infinity) {
      misuse++;
      return false;
    }
    m.lastAt = t;
    return true;
  };
  const countPrompt = (m: Model) => {
    if (m.prompt === m.prompt && m.prompt > m.promptCounted) {
      inputTokens += m.prompt - m.promptCounted;
      m.promptCounted = m.prompt;
    }
  };
  const close = (m: Model, at: unknown, reason: string) => {
    timeOk(m, at);
    m.state = 'ended';
    finished[reason] = (finished[reason] ?? 0) + 1;
  };
  const wrongState = () => misuse++;

  for (const c of calls) {
    operations++;
    now += 1;
    if (c.op === 'shutdown') {
      llm.shutdown();
      continue;
    }
    if (c.op === 'start') {
      const i = c.info;
      const m: Model = { handle: undefined as never, state: 'waiting', first: false, lastAt: now, prompt: NaN, promptCounted: 0, output: 0 };
      let arg: unknown;
      if (i.kind === 'value') {
        arg = i.value;
        misuse++; // not { model: string }
      } else {
        const at = resolveAt(undefined, i.at);
        arg = { model: i.model, promptTokens: i.promptTokens, at, operation: i.operation, attributes: i.attributes };
        if (typeof i.model !== 'string') misuse++;
        // A twin of what the SDK gets (hostile objects are made fresh), for the oracle.
        misuse += attributeMisuse(real(i.attributes));
        if (at !== undefined && !(typeof at === 'number' && Number.isFinite(at))) misuse++;
        else if (typeof at === 'number') m.lastAt = at;
        if (i.promptTokens !== undefined) {
          if (isCount(i.promptTokens)) m.prompt = i.promptTokens;
          else misuse++;
        }
      }
      m.handle = llm.startRequest(real(arg) as never);
      requests.push(m);
      continue;
    }
    if (requests.length === 0) continue;
    const m = requests[c.target % requests.length];
    const at = resolveAt(m, c.at);
    const atArg = real(at) as never;
    const h = m.handle;
    switch (c.op) {
      case 'scheduled':
        h.scheduled(atArg);
        if (m.state !== 'waiting') wrongState();
        else if (timeOk(m, at)) m.state = 'running';
        break;
      case 'firstToken':
      case 'tokens': {
        // `tokens(n = 1)`: an n left out, or undefined, is one token.
        const given = c.op === 'tokens' ? c : undefined;
        const n = given === undefined || given.omitN || given.n === undefined ? 1 : given.n;
        if (c.op === 'firstToken') h.firstToken(atArg);
        else if (given!.omitN) h.tokens(undefined, atArg);
        else h.tokens(real(given!.n) as never, atArg);
        if (c.op === 'firstToken' && m.first) wrongState();
        else if (m.state === 'ended' || m.state === 'swapped') wrongState();
        else if (!isCount(n)) misuse++;
        else if (timeOk(m, at) && n > 0) {
          if (!m.first) {
            m.first = true;
            m.state = 'running';
            countPrompt(m);
          }
          m.output += n;
          outputTokens += n;
        }
        break;
      }
      case 'preempted':
        h.preempted(atArg);
        if (m.state !== 'running') wrongState();
        else if (timeOk(m, at)) m.state = 'swapped';
        break;
      case 'resumed':
        h.resumed(atArg);
        if (m.state !== 'swapped') wrongState();
        else if (timeOk(m, at)) m.state = 'running';
        break;
      // Every other outcome passes the options form `{ at }`; the rest pass `at` itself, which is misuse unless it is an object.
      case 'abort':
        h.abort(operations % 2 === 0 ? { at: atArg } : atArg);
        if (m.state === 'ended') wrongState();
        else close(m, operations % 2 === 0 ? at : outcomeAt(at), 'abort');
        break;
      case 'fail':
        h.fail(real(c.error), operations % 2 === 0 ? { at: atArg } : atArg);
        if (m.state === 'ended') wrongState();
        else close(m, operations % 2 === 0 ? at : outcomeAt(at), 'error');
        break;
      case 'end': {
        // `at` travels inside the options, as the API takes it.
        const given = c.options;
        const readable = isRecord(given);
        const opts = readable ? { ...given, at } : given;
        h.end(real(opts) as never);
        if (m.state === 'ended') {
          wrongState();
          break;
        }
        const o = (readable ? opts : {}) as { finishReason?: unknown; outputTokens?: unknown; promptTokens?: unknown; at?: unknown };
        let reason = o.finishReason === undefined ? 'stop' : REASONS.includes(o.finishReason as never) ? (o.finishReason as string) : 'other';
        // `abort` and `error` are reserved for abort() and fail(): misuse, and the request ends as `other`.
        if (reason === 'abort' || reason === 'error') {
          misuse++;
          reason = 'other';
        }
        if (o.outputTokens !== undefined) {
          if (isCount(o.outputTokens)) {
            if (o.outputTokens > m.output) outputTokens += o.outputTokens - m.output;
          } else misuse++;
        }
        if (o.promptTokens !== undefined) {
          if (isCount(o.promptTokens)) m.prompt = o.promptTokens;
          else misuse++;
        }
        countPrompt(m);
        close(m, o.at, reason);
        break;
      }
    }
  }

  const got = await collect(llm.producer);
  const total = (name: string, filter: (a: Record<string, unknown>) => boolean = () => true) =>
    (got.metric(name)?.dataPoints ?? [])
      .filter((p) => filter(p.attributes))
      .reduce((sum, p) => sum + (typeof p.value === 'number' ? p.value : (p.value as { count: number }).count), 0);
  for (const reason of REASONS) {
    expect(total('inferwatch.requests.finished', (a) => a.finish_reason === reason), reason).toBe(finished[reason] ?? 0);
  }
  expect(total('gen_ai.server.request.duration')).toBe(requests.filter((r) => r.state === 'ended').length);
  expect(total('inferwatch.sdk.misuse')).toBe(misuse);
  expect(total('inferwatch.tokens', (a) => a['gen_ai.token.type'] === 'output')).toBe(outputTokens);
  expect(total('inferwatch.tokens', (a) => a['gen_ai.token.type'] === 'input')).toBe(inputTokens);
  for (const state of ['waiting', 'running', 'swapped'] as const) {
    expect(total(`inferwatch.scheduler.${state}`), state).toBe(requests.filter((r) => r.state === state).length);
  }
  // At most TENANT_LIMIT values of their own, the rest `_OTHER`; no request attribute but the declared one.
  const tenants = new Set(got.metric('inferwatch.requests.finished')!.dataPoints.map((p) => p.attributes.tenant).filter((t) => t !== undefined && t !== '_OTHER'));
  expect(tenants.size).toBeLessThanOrEqual(TENANT_LIMIT);
  for (const t of tenants) expect(['x', 'y', 'z', 'w', HUGE.slice(0, 128)]).toContain(t);
}

/**
 * The rule for startRequest({ attributes }): anything but an object (or undefined) is one misuse; an
 * object is one misuse if it names an undeclared key, and one more if `tenant` is neither a string nor undefined.
 */
function attributeMisuse(attributes: unknown): number {
  if (attributes === undefined) return 0;
  if (typeof attributes !== 'object' || attributes === null || isRevoked(attributes) || Array.isArray(attributes)) return 1;
  const keys = Object.keys(attributes);
  const tenant = keys.includes('tenant') ? (attributes as { tenant: unknown }).tenant : undefined;
  return (keys.some((k) => k !== 'tenant') ? 1 : 0) + (tenant !== undefined && typeof tenant !== 'string' ? 1 : 0);
}
function isRevoked(value: object): boolean {
  try {
    Object.keys(value);
    return false;
  } catch {
    return true;
  }
}

// ---------------------------------------------------------------------------------------------
// The response tap: well-formed OpenAI streams with noise, and random bytes, in random splits

type SseEvent =
  | { kind: 'content'; text: string }
  | { kind: 'finish'; reason: string }
  | { kind: 'usage'; prompt: number; completion: number }
  | { kind: 'error'; type: string }
  | { kind: 'done' }
  | { kind: 'noise'; line: string };
const sseEvent: fc.Arbitrary<SseEvent> = fc.oneof(
  { weight: 16, arbitrary: fc.string({ maxLength: 12, unit: 'binary' }).map((text): SseEvent => ({ kind: 'content', text })) },
  { weight: 2, arbitrary: fc.constantFrom('stop', 'length', 'tool_calls', 'abort', 'error', 'odd', HUGE.slice(0, 150_000)).map((reason): SseEvent => ({ kind: 'finish', reason })) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('usage' as const), prompt: fc.nat(5000), completion: fc.nat(60) }) },
  { weight: 1, arbitrary: fc.constantFrom('server_error', 'rate_limit').map((type): SseEvent => ({ kind: 'error', type })) },
  { weight: 1, arbitrary: fc.constant<SseEvent>({ kind: 'done' }) },
  // Comments, other fields and blank lines: not `data:` lines, so ignored.
  { weight: 2, arbitrary: fc.constantFrom(': ping', 'event: message', 'id: 7', 'retry: 10', '').map((line): SseEvent => ({ kind: 'noise', line })) },
);
const line = (e: SseEvent): string => {
  switch (e.kind) {
    case 'content':
      return `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: e.text }, finish_reason: null }] })}`;
    case 'finish':
      return `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: e.reason }] })}`;
    case 'usage':
      return `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: e.prompt, completion_tokens: e.completion } })}`;
    case 'error':
      return `data: ${JSON.stringify({ error: { type: e.type, message: 'x' } })}`;
    case 'done':
      return 'data: [DONE]';
    case 'noise':
      return e.line;
  }
};

/** Cuts `bytes` at the given fractions; each piece goes in as bytes or as a string, as a caller might. */
function pieces(bytes: Buffer, cuts: number[], asString: boolean[]): (Uint8Array | string)[] {
  const at = [...new Set(cuts.map((f) => Math.floor(f * bytes.length)))].sort((a, b) => a - b);
  const out: (Uint8Array | string)[] = [];
  let start = 0;
  for (const [i, end] of [...at, bytes.length].entries()) {
    if (end <= start) continue;
    const piece = bytes.subarray(start, end);
    // A string piece must not split a character: only pure-ASCII pieces go in as strings.
    out.push(asString[i % asString.length] && piece.every((b) => b < 128) ? piece.toString('latin1') : new Uint8Array(piece));
    start = end;
  }
  return out;
}

async function runTaps(streams: { events: SseEvent[]; cuts: number[]; asString: boolean[]; crlf: boolean }[], garbage: { bytes: Uint8Array; cuts: number[] }[]) {
  const llm = createLlmMetrics({ log: false });
  const expected: Record<string, number> = {};
  let output = 0;
  let input = 0;
  for (const s of streams) {
    operations += s.events.length;
    const body = Buffer.from(s.events.map((e) => `${line(e)}${s.crlf ? '\r\n' : '\n'}`).join(''), 'utf8');
    const tap = tapResponse(llm.startRequest({ model: 'm' }), { format: 'sse' });
    for (const piece of pieces(body, s.cuts, s.asString)) tap.write(piece);
    tap.finish();
    // The oracle, from the rules in docs/metrics.md (HTTP handlers): one token per content-bearing
    // event; an error event fails the request; finish_reason and usage from the events; a stream
    // without [DONE] and without a finish_reason was cut short.
    let tokens = 0;
    let reason: string | undefined;
    let usage: { prompt: number; completion: number } | undefined;
    let done = false;
    let failed = false;
    for (const e of s.events) {
      if (e.kind === 'error') {
        failed = true;
        break;
      }
      if (e.kind === 'content' && e.text !== '') tokens++;
      if (e.kind === 'finish') reason = e.reason;
      if (e.kind === 'usage') usage = e;
      if (e.kind === 'done') done = true;
    }
    output += tokens;
    let outcome: string;
    if (failed) outcome = 'error';
    else if (!done && reason === undefined) outcome = 'error';
    // An upstream's `abort` or `error` finish reason is that outcome: its usage is not a success's.
    else if (reason === 'abort' || reason === 'error') outcome = reason;
    else {
      outcome = reason === undefined ? 'stop' : REASONS.includes(reason as never) ? reason : 'other';
      if (usage !== undefined) {
        output += Math.max(0, usage.completion - tokens);
        input += usage.prompt;
      }
    }
    expected[outcome] = (expected[outcome] ?? 0) + 1;
  }
  for (const g of garbage) {
    operations += 1 + g.cuts.length;
    const tap = tapResponse(llm.startRequest({ model: 'garbage' }), { format: g.cuts.length % 2 === 0 ? 'sse' : 'json' });
    for (const piece of pieces(Buffer.from(g.bytes), g.cuts, [false])) tap.write(piece);
    tap.finish();
    tap.finish();
    tap.abort();
  }
  const got = await collect(llm.producer);
  const byReason = (model: string) => {
    const out: Record<string, number> = {};
    for (const p of got.metric('inferwatch.requests.finished')!.dataPoints) {
      if (p.attributes['gen_ai.request.model'] === model && (p.value as number) > 0) out[String(p.attributes.finish_reason)] = p.value as number;
    }
    return out;
  };
  expect(byReason('m')).toEqual(expected);
  const tokens = (type: string) =>
    got.metric('inferwatch.tokens')!.dataPoints.filter((p) => p.attributes['gen_ai.request.model'] === 'm' && p.attributes['gen_ai.token.type'] === type).reduce((a, p) => a + (p.value as number), 0);
  expect(tokens('output')).toBe(output);
  expect(tokens('input')).toBe(input);
  // Random bytes: whatever they say, each request ends exactly once.
  expect(Object.values(byReason('garbage')).reduce((a, b) => a + b, 0)).toBe(garbage.length);
}

// ---------------------------------------------------------------------------------------------
// Engine state, streams, client metrics and wrappers: nothing throws, and the counts follow the rules

const engineOp = fc.oneof(
  hostile.map((state) => ({ op: 'report' as const, state })),
  fc.record({
    op: fc.constant('report' as const),
    state: fc.record(
      {
        running: fc.oneof(fc.nat(50), hostile),
        gpuKvCacheUsage: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), hostile),
        attributes: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), hostile), { maxKeys: 20 }), hostile),
      },
      { requiredKeys: [] },
    ),
  }),
  fc.record({ op: fc.constant('observe' as const), result: fc.oneof(hostile, fc.array(hostile, { maxLength: 100 })), throws: fc.boolean() }),
);

async function runEngine(ops: { op: 'report' | 'observe'; state?: unknown; result?: unknown; throws?: boolean }[]) {
  const llm = createLlmMetrics({ log: false });
  let callbacks = 0;
  let throwing = 0;
  for (const o of ops) {
    operations++;
    if (o.op === 'report') llm.reportEngineState(real(o.state) as never);
    else {
      callbacks++;
      if (o.throws) throwing++;
      const result = real(o.result);
      llm.observeEngineState(() => {
        if (o.throws) throw new Error('engine down');
        return result as never;
      });
    }
  }
  const got = await collect(llm.producer);
  for (const name of ['inferwatch.scheduler.running', 'inferwatch.kv_cache.gpu.usage']) {
    const points = got.metric(name)?.dataPoints ?? [];
    // At most 64 pushed attribute sets, and 64 per callback.
    expect(points.length).toBeLessThanOrEqual(64 * (1 + callbacks));
    for (const p of points) {
      expect(Object.keys(p.attributes).length).toBeLessThanOrEqual(16);
      for (const key of Object.keys(p.attributes)) expect(key).toMatch(/^[a-zA-Z_][a-zA-Z0-9_]*$/);
      if (name === 'inferwatch.kv_cache.gpu.usage') expect(p.value as number).toBeGreaterThanOrEqual(0);
    }
  }
  const callbackErrors = got.metric('inferwatch.sdk.misuse')!.dataPoints.find((p) => p.attributes.reason === 'callback_error')!.value;
  // One collection so far: each throwing callback counted once.
  expect(callbackErrors).toBe(throwing);
}

async function runStreams(items: { chunks: unknown[]; counts: unknown[]; kind: 'iterable' | 'node' | 'web'; format: unknown; stopAfter: number | undefined }[]) {
  const llm = createLlmMetrics({ log: false });
  // A Node stream's transform runs ahead of a consumer that stops early, so there the count has a range.
  let expectedTokens = 0;
  let aheadTokens = 0;
  for (const item of items) {
    operations += item.chunks.length + 1;
    const chunks = item.chunks.map(real);
    const counts = item.counts.map(real);
    let i = 0;
    const tokens = (): number => {
      const n = counts[i++ % counts.length];
      if (n === 'throw') throw new Error('tokens');
      return n as number;
    };
    const useFormat = item.format === 'sse' || item.format === 'json';
    // A Node stream ends at a null chunk and cannot carry undefined.
    const passed = item.kind === 'node' ? chunks.filter((c) => c !== null && c !== undefined) : chunks;
    const source = item.kind === 'node' ? Readable.from(passed) : item.kind === 'web' ? ReadableStream.from(passed) : passed;
    const tracked = trackStream(llm.startRequest({ model: 'm' }), source as never, { format: real(item.format) as never, tokens });
    const seen: unknown[] = [];
    for await (const chunk of tracked as AsyncIterable<unknown>) {
      seen.push(chunk);
      if (item.stopAfter !== undefined && seen.length >= item.stopAfter) break;
    }
    // Chunks pass through unchanged: the very same values, in order.
    const want = passed.slice(0, item.stopAfter ?? passed.length);
    expect(seen.length).toBe(want.length);
    seen.forEach((chunk, k) => expect(Object.is(chunk, want[k])).toBe(true));
    if (!useFormat) {
      // The rule: the tokens callback's count per chunk, when it is a count (a callback that throws counts nothing).
      for (let k = 0; k < passed.length; k++) {
        const n = counts[k % counts.length];
        if (!isCount(n)) continue;
        if (k < seen.length) expectedTokens += n;
        else if (item.kind === 'node') aheadTokens += n;
      }
    }
  }
  const got = await collect(llm.producer);
  const finished = got.metric('inferwatch.requests.finished')!.dataPoints.reduce((a, p) => a + (p.value as number), 0);
  expect(finished).toBe(items.length);
  const unformatted = items.every((it) => !(it.format === 'sse' || it.format === 'json'));
  if (unformatted) {
    const output = got.metric('inferwatch.tokens')!.dataPoints.filter((p) => p.attributes['gen_ai.token.type'] === 'output').reduce((a, p) => a + (p.value as number), 0);
    expect(output).toBeGreaterThanOrEqual(expectedTokens);
    expect(output).toBeLessThanOrEqual(expectedTokens + aheadTokens);
  }
}

async function runClient(ops: { info: unknown; steps: ('chunk' | 'end' | 'fail')[]; usage: unknown; error: unknown }[]) {
  const metrics = createClientMetrics({ clock: (() => 1) as never });
  let ended = 0;
  for (const o of ops) {
    operations += 1 + o.steps.length;
    const op = metrics.startOperation(real(o.info) as never);
    for (const step of o.steps) {
      if (step === 'chunk') op.chunk();
      else if (step === 'end') op.end(real(o.usage) as never);
      else op.fail(real(o.error));
    }
    if (o.steps.some((s) => s !== 'chunk')) ended++;
  }
  // Wrappers around clients that are not what they claim.
  for (const client of [null, undefined, {}, { chat: null }, hostileObject(), throwingProxy(), revokedProxy()]) {
    operations++;
    expect(instrumentOpenAI(metrics, client as never)).toBe(client);
  }
  const fakeClient = {
    chat: { completions: { create: (body: unknown) => (body === 'sync' ? 42 : Promise.resolve({ usage: hostileObject() })) } },
    completions: { create: () => Promise.reject(hostileObject()) },
  };
  instrumentOpenAI(metrics, fakeClient as never);
  for (const body of ['sync', null, hostileObject(), { model: 'm', stream: true }]) {
    operations++;
    ended++;
    const result = fakeClient.chat.completions.create(body as never);
    await Promise.resolve(result);
  }
  operations++;
  ended++;
  await fakeClient.completions.create().then(
    () => {},
    () => {},
  );
  const middleware = instrumentAiSdk(metrics);
  for (const model of [null, hostileObject(), { modelId: 'x', provider: 'p.chat' }]) {
    operations += 2;
    ended += 2;
    await middleware.wrapGenerate({ doGenerate: async () => ({ usage: hostileObject() }), model: model as never });
    const streamed = await middleware.wrapStream({
      doStream: async () => ({ stream: ReadableStream.from([{ type: 'text-delta' }, hostileObject(), null, { type: 42 }, { type: 'finish', usage: { inputTokens: 3 } }]) as never }),
      model: model as never,
    });
    for await (const _part of streamed.stream as unknown as AsyncIterable<unknown>) {
      // Read to the end.
    }
  }
  const got = await collect(metrics.producer);
  const durations = got.metric('gen_ai.client.operation.duration')!.dataPoints.reduce((a, p) => a + (p.value as { count: number }).count, 0);
  // Every call that ended is counted once, however hostile its arguments.
  expect(durations).toBe(ended);
}

async function runStartMetrics(options: unknown, order: ('flush' | 'shutdown' | 'handler' | 'ready')[]) {
  operations += 1 + order.length;
  const opts = isRecord(options) ? { ...options, meterProvider: 'private', shutdownTimeoutMs: 200, prometheus: false, gpu: false } : options;
  const running = startMetrics(real(opts) as never);
  for (const step of order) {
    if (step === 'flush') await running.forceFlush();
    else if (step === 'shutdown') await running.shutdown();
    else if (step === 'ready') expect(typeof (await running.ready).ok).toBe('boolean');
    else running.metricsHandler(null as never, null as never);
  }
  await running.shutdown();
}

// ---------------------------------------------------------------------------------------------

describe('fuzz: no call throws, and the counters follow the documented rules', () => {
  it('recorder and request handles (calls in any order, hostile arguments, after shutdown)', async () => {
    await fc.assert(fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 500, size: 'max' }), runRecorder), { seed: SEED, numRuns: 400 });
  });

  it('the response tap: OpenAI streams with noise in random splits, and random bytes', async () => {
    const stream = fc.record({
      events: fc.array(sseEvent, { maxLength: 40 }),
      cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }),
      asString: fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
      crlf: fc.boolean(),
    });
    const garbage = fc.record({ bytes: fc.uint8Array({ maxLength: 400 }), cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }) });
    await fc.assert(fc.asyncProperty(fc.array(stream, { maxLength: 12 }), fc.array(garbage, { maxLength: 6 }), runTaps), { seed: SEED, numRuns: 120 });
  });

  it('engine state: pushed and observed, hostile states and attributes', async () => {
    await fc.assert(fc.asyncProperty(fc.array(engineOp, { maxLength: 100 }), runEngine), { seed: SEED, numRuns: 150 });
  });

  it('trackStream on every stream kind, with hostile chunks, counts and options', async () => {
    const item = fc.record({
      // Not proxies: for-await itself reads `.then` of every value of a sync iterable, SDK or not.
      chunks: fc.array(fc.oneof(fc.string({ maxLength: 30 }), fc.uint8Array({ maxLength: 30 }), hostile.filter((v) => !(v instanceof Hostile) || v.kind === 'object')), { maxLength: 15 }),
      counts: fc.array(fc.oneof(fc.nat(5), fc.constant('throw'), hostile), { minLength: 1, maxLength: 5 }),
      kind: fc.constantFrom('iterable' as const, 'node' as const, 'web' as const),
      format: fc.oneof(fc.constant(undefined), fc.constant(undefined), fc.constantFrom('sse', 'json'), hostile),
      stopAfter: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
    });
    await fc.assert(fc.asyncProperty(fc.array(item, { maxLength: 8 }), runStreams), { seed: SEED, numRuns: 100 });
  });

  it('client metrics and the openai / AI SDK wrappers', async () => {
    const op = fc.record({
      info: fc.oneof(fc.record({ model: fc.oneof(fc.string({ maxLength: 5 }), hostile) }), hostile),
      steps: fc.array(fc.constantFrom('chunk' as const, 'end' as const, 'fail' as const), { maxLength: 6 }),
      usage: fc.oneof(fc.record({ inputTokens: fc.oneof(fc.nat(99), hostile), outputTokens: fc.oneof(fc.nat(99), hostile) }), hostile),
      error: hostile,
    });
    await fc.assert(fc.asyncProperty(fc.array(op, { maxLength: 60 }), runClient), { seed: SEED, numRuns: 60 });
  });

  it('startMetrics with hostile options, and what it returns called in any order', async () => {
    const options = fc.oneof(
      hostile,
      fc.record(
        {
          llm: fc.oneof(fc.constant(undefined), hostile, fc.constant(null).map(() => createLlmMetrics({ log: false })), fc.array(hostile, { maxLength: 3 })),
          metricProducers: fc.oneof(hostile, fc.array(hostile, { maxLength: 3 })),
          otlp: fc.oneof(fc.constant(false), hostile),
          resourceAttributes: hostile,
          serviceName: hostile,
        },
        { requiredKeys: [] },
      ),
    );
    const order = fc.array(fc.constantFrom('flush' as const, 'shutdown' as const, 'handler' as const, 'ready' as const), { maxLength: 6 });
    await fc.assert(fc.asyncProperty(options, order, runStartMetrics), { seed: SEED, numRuns: 40 });
  });
});
