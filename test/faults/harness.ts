// What the fault suite shares: a scripted SSE upstream it can watch, raw-socket clients that
// misbehave on purpose, and a bounded wait for the gateway to settle, read from its own /metrics.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { serve } from '../helpers/net.js';
import { sleep, waitUntil } from '../helpers/wait.js';

export const MODEL = 'sim-fault';

export interface UpstreamOptions {
  /** Tokens per response; each is one SSE event. */
  tokens?: number;
  /** Milliseconds before each token. */
  gapMs?: number;
  /** Padding per token, to make a long stream out of few events. */
  tokenBytes?: number;
}

/**
 * An OpenAI-style upstream serving MODEL. The prompt picks the script: `cut` destroys the stream
 * after two tokens, `fail` answers 500, `hang` never answers, `held` sends its first token (not
 * streamed: nothing) and the rest only after `release()`; anything else streams (or returns) tokens.
 * `held` lets a test act while a request is surely under way, however slowly the machine runs.
 */
export async function scriptedUpstream(options: UpstreamOptions = {}) {
  const { tokens = 20, gapMs = 2, tokenBytes = 0 } = options;
  const stats = { requests: 0, bytesSent: 0, open: 0 };
  const pad = 'x'.repeat(tokenBytes);
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const served = await serve(async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET' && req.url === '/v1/models') {
      return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [{ id: MODEL, object: 'model' }] }));
    }
    stats.requests++;
    stats.open++;
    res.once('close', () => stats.open--);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { prompt?: string; stream?: boolean };
    if (body.prompt === 'fail') return res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"boom","type":"server_error"}}');
    if (body.prompt === 'hang') return;
    const event = (i: number, finish: string | null) =>
      `data: ${JSON.stringify({ id: 'c', object: 'text_completion', model: MODEL, choices: [{ index: 0, text: i < 0 ? '' : ` t${i}${pad}`, finish_reason: finish }] })}\n\n`;
    if (body.stream !== true) {
      if (body.prompt === 'held') await released;
      await sleep(gapMs * tokens);
      const text = Array.from({ length: tokens }, (_, i) => ` t${i}`).join('');
      return res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ id: 'c', object: 'text_completion', model: MODEL, choices: [{ index: 0, text, finish_reason: 'length' }], usage: { prompt_tokens: 1, completion_tokens: tokens, total_tokens: tokens + 1 } }),
      );
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (let i = 0; i < tokens && !res.destroyed; i++) {
      if (gapMs > 0) await sleep(gapMs);
      if (body.prompt === 'cut' && i === 2) return void res.destroy();
      if (body.prompt === 'held' && i === 1) {
        await released;
        if (res.destroyed) break;
      }
      const data = event(i, null);
      stats.bytesSent += data.length;
      if (!res.write(data)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.once('drain', done);
          res.once('close', done);
        });
      }
    }
    if (!res.destroyed) res.end(`${event(-1, 'length')}data: [DONE]\n\n`);
  });
  return { ...served, stats, release };
}

/** A completion request as raw bytes, with a declared body length that may exceed what is sent. */
export function rawRequest(port: number, body: object, options: { path?: string; headers?: Record<string, string> } = {}): { head: string; body: Buffer } {
  const bytes = Buffer.from(JSON.stringify(body));
  const headers = { host: `127.0.0.1:${port}`, 'content-type': 'application/json', 'content-length': String(bytes.length), ...options.headers };
  const head = `POST ${options.path ?? '/v1/completions'} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
  return { head, body: bytes };
}

/** A connected raw socket; errors (the resets the tests cause) are expected and swallowed. */
export async function rawSocket(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return socket;
}

/**
 * `count` clients that each send a request's headers and the first 500 bytes of its 2000-byte body, wait
 * until the server has seen every request (`seen`, its request event), then reset their connections.
 */
export async function resetMidBody(port: number, model: string, count: number, seen: () => number): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, async () => {
      const socket = await rawSocket(port);
      const { head, body } = rawRequest(port, { model, prompt: 'a'.repeat(2000), stream: true });
      socket.write(head);
      socket.write(body.subarray(0, 500));
      await waitUntil(() => seen() === count, { what: `the server to see all ${count} requests`, timeoutMs: 15_000 });
      await sleep(20);
      socket.resetAndDestroy();
    }),
  );
}


/** Sums every sample of one metric family (any labels), optionally only those whose labels contain `filter`. */
export function total(text: string, name: string, filter = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (filter && !line.includes(filter)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Per-value sums of one label of a metric family (`absent` for series without it), zeros left out. */
export function byLabel(text: string, name: string, label: string, absent = '(none)'): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (value === 0) continue;
    const key = new RegExp(`${label}="([^"]*)"`).exec(line)?.[1] ?? absent;
    out[key] = (out[key] ?? 0) + value;
  }
  return out;
}

export interface Settled {
  finished: number;
  e2e: number;
  reasons: Record<string, number>;
  errorTypes: Record<string, number>;
  active: number;
  queued: number;
  running: number;
  waiting: number;
  inFlight: number;
}

/** The gateway's counts and gauges, as its /metrics and /health show them. */
export async function readGateway(url: string, headers: Record<string, string> = {}): Promise<Settled> {
  const text = await (await fetch(`${url}/metrics`, { headers })).text();
  const health = (await (await fetch(`${url}/health`)).json()) as { inFlight: number };
  return {
    finished: total(text, 'inferwatch_requests_finished_total'),
    e2e: total(text, 'gen_ai_server_request_duration_count'),
    reasons: byLabel(text, 'inferwatch_requests_finished_total', 'finish_reason'),
    errorTypes: byLabel(text, 'gen_ai_server_request_duration_count', 'error_type', 'ok'),
    active: total(text, 'inferwatch_gateway_active'),
    queued: total(text, 'inferwatch_gateway_queue_size'),
    running: total(text, 'inferwatch_scheduler_running'),
    waiting: total(text, 'inferwatch_scheduler_waiting'),
    inFlight: health.inFlight,
  };
}

/**
 * Waits (bounded) until the gateway has finished `expected` requests and holds nothing, then returns
 * what it shows. If it never settles, the error names what it showed last.
 */
export async function settled(url: string, expected: number, ms = 10_000): Promise<Settled> {
  let last: Settled | undefined;
  return waitUntil(async () => {
    last = await readGateway(url);
    return last.finished === expected && last.e2e === expected && last.active === 0 && last.queued === 0 && last.inFlight === 0 && last.running === 0 && last.waiting === 0 && last;
  }, { what: () => `the gateway to settle at ${expected} finished requests (last: ${JSON.stringify(last)})`, timeoutMs: ms });
}

/** What a settled gateway should show besides its counts. */
export const IDLE = { active: 0, queued: 0, running: 0, waiting: 0, inFlight: 0 };
