import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript
import { startPrometheus } from '../../dashboards/lab.mjs';
import { seeded } from '../../packages/loadgen/src/random.js';
import { systemBinary } from '../helpers/binaries.js';
import { freePort } from '../helpers/net.js';
import { sample } from '../helpers/processes.js';
import { sleep, waitUntil } from '../helpers/wait.js';

// examples/integrations/cluster.mjs with 4 workers behind one port, under an independent client's load
// (plain node:http, Poisson arrivals): some requests aborted by the client after their first token, and one
// worker killed with SIGKILL mid-run (the primary forks another). Any worker answers /metrics for the group:
// every scrape after the load must equal what the client saw finish, and no counter may ever go back.
const prometheusBinary = systemBinary('prometheus', 'a real Prometheus scraping a node:cluster app');
const WORKERS = 4;
const REQUESTS = 2000;
const RATE = 100;
const ABORT_SHARE = 0.1;
/** Aborts only before this request, the kill after: a request the kill cut is never one the client aborted. */
const ABORTS_UNTIL = 1000;
const KILL_AT = 1200;
const SCRAPES_AFTER = 20;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MODEL = 'cluster-model';
const stop = `inferwatch_requests_finished_total{gen_ai_request_model="${MODEL}",gen_ai_operation_name="chat",gen_ai_provider_name="unknown",finish_reason="stop"}`;
const abort = stop.replace('finish_reason="stop"', 'finish_reason="abort"');
const outputTokens = `inferwatch_tokens_total{gen_ai_request_model="${MODEL}",gen_ai_operation_name="chat",gen_ai_provider_name="unknown",gen_ai_token_type="output"}`;
const labels = `gen_ai_request_model="${MODEL}",gen_ai_operation_name="chat",gen_ai_provider_name="unknown"`;

type Outcome = { kind: 'completed' | 'aborted' | 'cut'; tokens: number; endedAt: number; answered: boolean };
/** A stream sends a token every few milliseconds: this long without a byte is a connection nobody holds. */
const SILENCE_MS = 10_000;
/**
 * The SIGKILL races the requests that end as it lands: a response's last bytes can leave before its worker's
 * record of it does (the client saw it end, the group never will), and a worker's record can leave before the
 * kill resets a connection whose last bytes its client had not read (the group holds a request the client saw
 * cut). Only requests the client saw end this close to the kill may be missing, at most two; only requests
 * the kill cut may be extra.
 */
const AT_KILL_MS = 250;

/** One streamed completion over plain node:http; `abortAfterFirst` leaves once the first token arrived. */
function completion(url: string, abortAfterFirst: boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    let tokens = 0;
    let done = false;
    let settled = false;
    let answered = false;
    const settle = (kind: Outcome['kind']) => {
      if (settled) return;
      settled = true;
      resolve({ kind, tokens, endedAt: Date.now(), answered });
    };
    const req = request(`${url}/v1/chat/completions`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      answered = true;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        for (const event of chunk.split('\n\n')) {
          if (event.includes('[DONE]')) done = true;
          else if (event.includes('"content"')) tokens++;
        }
        if (abortAfterFirst && tokens > 0) {
          settle('aborted');
          req.destroy();
        }
      });
      res.on('end', () => settle(done ? 'completed' : 'cut'));
      res.on('error', () => settle('cut'));
      // A worker killed mid-stream resets the socket: the response closes without an end.
      res.on('close', () => settle('cut'));
    });
    req.on('error', () => settle('cut'));
    // node:cluster's primary accepts each connection and hands it to a worker: one handed to the worker as it
    // was killed is held by nobody and never answered, so a client's timeout is what ends it.
    req.setTimeout(SILENCE_MS, () => {
      settle('cut');
      req.destroy();
    });
    req.end(JSON.stringify({ model: MODEL, stream: true, messages: [] }));
  });
}

/** A sample's value in a text exposition, 0 when absent. */
const value = (text: string, line: string) => sample(text, line) ?? 0;

describe('a node:cluster app with 4 workers, one of them killed mid-run', () => {
  let app: ChildProcess;
  let url: string;
  let output = '';
  const outcomes: Outcome[] = [];
  const during: { stop: number; abort: number; tokens: number; count: number }[] = [];
  const after: string[] = [];
  let killed: number | undefined;
  let killedAt = 0;
  let failedScrapes = 0;
  /** Indexes of the requests no worker answered. */
  const unanswered: number[] = [];
  let prom: { query: (expr: string, time?: number) => Promise<{ metric: Record<string, string>; value: [number, string] }[]>; child: ChildProcess; remove: () => void } | undefined;
  let steady: { from: number; to: number } = { from: 0, to: 0 };

  const scrape = async () => (await fetch(`${url}/metrics`, { headers: { accept: 'text/plain' }, signal: AbortSignal.timeout(SILENCE_MS) })).text();
  const workerPids = () => [...output.matchAll(/worker (\d+) listening/g)].map((m) => Number(m[1]));

  beforeAll(async () => {
    try {
      const port = await freePort();
      url = `http://127.0.0.1:${port}`;
      app = spawn(process.execPath, [`${ROOT}examples/integrations/cluster.mjs`], { cwd: `${ROOT}examples/integrations`, env: { ...process.env, PORT: String(port), WORKERS: String(WORKERS) }, stdio: ['ignore', 'pipe', 'pipe'] });
      app.stdout!.on('data', (d: Buffer) => (output += d));
      app.stderr!.on('data', (d: Buffer) => (output += d));
      await waitUntil(() => workerPids().length >= WORKERS, { what: `${WORKERS} workers listening`, timeoutMs: 20_000 });
      if (prometheusBinary !== undefined) prom = await startPrometheus({ cluster: [url.replace('http://', '')] }, { prometheusBinary, nativeHistograms: true });

      // Scrapes through the shared port (any worker answers) for as long as the load runs: none may go back.
      let loading = true;
      const watching = (async () => {
        while (loading) {
          let text: string;
          try {
            text = await scrape();
          } catch {
            // A scrape whose connection went to the worker as it was killed: the client cannot choose another.
            failedScrapes++;
            await sleep(100);
            continue;
          }
          during.push({ stop: value(text, stop), abort: value(text, abort), tokens: value(text, outputTokens), count: value(text, `gen_ai_server_request_duration_count{${labels}}`) });
          await sleep(100);
        }
      })();
      const random = seeded(20);
      const pending: Promise<Outcome>[] = [];
      for (let i = 0; i < REQUESTS; i++) {
        if (i === KILL_AT) {
          killed = workerPids()[1];
          killedAt = Date.now();
          process.kill(killed, 'SIGKILL');
          steady.from = Date.now();
        }
        pending.push(completion(url, i < ABORTS_UNTIL && random() < ABORT_SHARE).then((o) => (outcomes.push(o), unanswered.push(...(o.answered ? [] : [i])), o)));
        await sleep((-Math.log(1 - random()) / RATE) * 1000);
      }
      steady.to = Date.now();
      await Promise.all(pending);
      loading = false;
      await watching;
      // The group settles: every worker sent what it recorded, the killed one was replaced.
      const completed = outcomes.filter((o) => o.kind === 'completed').length;
      const atKill = outcomes.filter((o) => o.kind === 'completed' && Math.abs(o.endedAt - killedAt) <= AT_KILL_MS).length;
      let seen = 0;
      await waitUntil(async () => (seen = value(await scrape(), stop)) >= completed - Math.min(atKill, 2), {
        what: () => `the group to hold every completed request (${completed}, ${atKill} of them at the kill); it holds ${seen}`,
        timeoutMs: 15_000,
      });
      // Past a state push: whatever is still on its way has arrived.
      await sleep(1500);
      for (let i = 0; i < SCRAPES_AFTER; i++) after.push(await scrape());
    } catch (error) {
      // What the app printed tells a slow machine from a fault.
      throw new Error(`${String(error)}\nthe app's output, last 4000 characters:\n${output.slice(-4000)}`, { cause: error });
    }
  }, 120_000);

  afterAll(async () => {
    if (prom !== undefined) {
      const exited = new Promise((resolve) => prom!.child.once('exit', resolve));
      prom.child.kill();
      await exited;
      prom.remove();
    }
    if (app !== undefined && app.exitCode === null) {
      const exited = new Promise((resolve) => app.once('exit', resolve));
      app.kill('SIGTERM');
      await exited;
    }
  });

  it('replaced the killed worker, and the client saw requests cut by it', () => {
    expect(killed).toBeDefined();
    expect(workerPids().length).toBeGreaterThan(WORKERS);
    console.log(`client: ${outcomes.filter((o) => o.kind === 'completed').length} completed, ${outcomes.filter((o) => o.kind === 'aborted').length} aborted, ${outcomes.filter((o) => o.kind === 'cut').length} cut by the kill`);
    expect(outcomes).toHaveLength(REQUESTS);
    // Only a scrape that reached the killed worker may fail, and only a request handed to it as it died goes unanswered.
    expect(failedScrapes).toBeLessThanOrEqual(1);
    console.log(`unanswered requests: ${JSON.stringify(unanswered)}`);
    expect(unanswered.length).toBeLessThanOrEqual(2);
    for (const i of unanswered) expect(Math.abs(i - KILL_AT)).toBeLessThanOrEqual(5);
  });

  it(`answers every one of ${SCRAPES_AFTER} scrapes after the load with the client's exact counts`, () => {
    const completed = outcomes.filter((o) => o.kind === 'completed');
    const aborted = outcomes.filter((o) => o.kind === 'aborted');
    const cut = outcomes.filter((o) => o.kind === 'cut');
    expect(aborted.length).toBeGreaterThan(50);
    const atKill = completed.filter((o) => Math.abs(o.endedAt - killedAt) <= AT_KILL_MS);
    const lost = completed.length - value(after[0], stop);
    console.log(`completed requests missing from the group: ${lost} (${atKill.length} ended within ${AT_KILL_MS} ms of the kill, ${cut.length} cut)`);
    expect(lost).toBeGreaterThanOrEqual(-cut.length);
    expect(lost).toBeLessThanOrEqual(Math.min(atKill.length, 2));
    for (const text of after) {
      expect(value(text, stop)).toBe(completed.length - lost);
      expect(value(text, abort)).toBe(aborted.length);
      // Every _count is the finished requests: successes alone, and the aborted under their error type.
      expect(value(text, `gen_ai_server_request_duration_count{${labels}}`)).toBe(completed.length - lost);
      expect(value(text, `gen_ai_server_request_duration_count{${labels},error_type="cancelled"}`)).toBe(aborted.length);
      expect(value(text, `gen_ai_server_time_to_first_token_count{${labels}}`)).toBeGreaterThanOrEqual(completed.length - lost + aborted.length);
      // Tokens count as they pass: every token of a finished request, and of a cut one at most what it sent.
      const finishedTokens = [...completed, ...aborted].reduce((n, o) => n + o.tokens, 0);
      const lostTokens = lost <= 0 ? 0 : atKill.reduce((n, o) => n + o.tokens, 0);
      expect(value(text, outputTokens)).toBeGreaterThanOrEqual(finishedTokens - lostTokens);
      // A cut request the group holds as completed counts what its worker sent: at most a whole completion.
      const extraTokens = lost >= 0 ? 0 : -lost * Math.max(...completed.map((o) => o.tokens));
      expect(value(text, outputTokens)).toBeLessThanOrEqual(finishedTokens + cut.reduce((n, o) => n + o.tokens, 0) + cut.length + extraTokens);
      // No request is in flight any more, the killed worker's included.
      for (const state of ['running', 'waiting', 'swapped']) expect(value(text, `inferwatch_scheduler_${state}{${labels}}`), state).toBe(0);
    }
  });

  it('never showed a counter lower than an earlier scrape, across the kill', () => {
    expect(during.length).toBeGreaterThan(50);
    for (let i = 1; i < during.length; i++) {
      for (const key of ['stop', 'abort', 'tokens', 'count'] as const) expect(during[i][key], `${key} at scrape ${i}`).toBeGreaterThanOrEqual(during[i - 1][key]);
    }
  });

  it.skipIf(prometheusBinary === undefined)('shows Prometheus no counter reset, and the client’s completion rate within 2 %', async () => {
    const resets = await prom!.query(`resets(inferwatch_requests_finished_total[5m]) > 0 or resets(inferwatch_tokens_total[5m]) > 0 or resets(histogram_count(gen_ai_server_request_duration)[5m:1s]) > 0`);
    expect(resets).toEqual([]);
    // After the kill, at a steady 100 req/s: the rate over the last 10 s of the load, against the client's completions in those 10 s.
    const at = steady.to / 1000;
    const [rate] = await prom!.query(`sum(rate(${stop.replace('inferwatch_requests_finished_total{', 'inferwatch_requests_finished_total{')}[10s]))`, at);
    const client = outcomes.filter((o) => o.kind === 'completed' && o.endedAt > steady.to - 10_000 && o.endedAt <= steady.to).length / 10;
    console.log(`rate: Prometheus ${Number(rate.value[1]).toFixed(2)} req/s, client ${client.toFixed(2)} req/s`);
    expect(Math.abs(Number(rate.value[1]) / client - 1)).toBeLessThanOrEqual(0.02);
  });
});
