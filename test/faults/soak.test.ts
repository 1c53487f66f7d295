// The soak: ≥ 500 concurrent streams for 60 s, 30 % of them abandoned by their clients at random
// points. The gateway's heap after a full GC stays within 1.5× of what it was after warm-up, every
// request that reached it is counted exactly once, and no slot or gauge is left held.
import { fork, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { sleep } from '../helpers/wait.js';
import { IDLE, MODEL, scriptedUpstream, settled } from './harness.js';

const CONCURRENCY = 500;
// Past one whole stream, so the heap after warm-up already holds finished requests' leftovers, if any.
const WARM_UP_MS = 12_000;
const LOAD_MS = 60_000;
const ABORT_SHARE = 0.3;
// Streams of ~10 s (5 tokens, 2 s apart): 500 at once is ~50 new requests and ~250 events a second,
// which leaves most of the machine to the test files that run beside this one.
const TOKENS = 5;
const GAP_MS = 2000;

let child: ChildProcess | undefined;
afterAll(() => {
  child?.kill('SIGKILL');
});

type Outcome = 'completed' | 'failed' | 'aborted' | 'cut';

/**
 * One streamed completion, read to its end, over node:http (500 at once cost half the CPU of fetch,
 * which leaves more of the machine to the files running beside this one): completed (200, read to its
 * end), failed (another status), aborted (this client gave up), or cut (the connection closed first).
 */
function stream(url: string, agent: Agent, signal: AbortSignal, failures: Map<number, number>): Promise<Outcome> {
  return new Promise((resolve) => {
    const body = JSON.stringify({ model: MODEL, prompt: 'a', stream: true });
    const ended = (outcome: Outcome) => resolve(signal.aborted ? 'aborted' : outcome);
    const req = request(`${url}/v1/completions`, { method: 'POST', agent, signal, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.once('end', () => {
        if (res.statusCode !== 200 && !signal.aborted) failures.set(res.statusCode ?? 0, (failures.get(res.statusCode ?? 0) ?? 0) + 1);
        ended(res.statusCode === 200 ? 'completed' : 'failed');
      });
      res.once('close', () => ended('cut'));
    });
    req.once('error', () => ended('cut'));
    req.end(body);
  });
}

function ask<T>(process: ChildProcess, message: string): Promise<T> {
  return new Promise((resolve) => {
    process.once('message', (reply) => resolve(reply as T));
    process.send(message);
  });
}

describe('soak', () => {
  it(`${CONCURRENCY} concurrent streams for ${LOAD_MS / 1000} s, ${ABORT_SHARE * 100} % aborted: flat heap, exact counts, nothing held`, async () => {
    const upstream = await scriptedUpstream({ tokens: TOKENS, gapMs: GAP_MS });
    try {
      child = fork(fileURLToPath(new URL('./gateway-process.mjs', import.meta.url)), [upstream.url], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const { url } = await new Promise<{ url: string }>((resolve) => child!.once('message', (m) => resolve(m as { url: string })));
      const until = performance.now() + WARM_UP_MS + LOAD_MS;
      const sent = { total: 0, aborted: 0, completed: 0, failed: 0, cut: 0 };
      // Status codes of the failed requests, to say why when there are any.
      const failures = new Map<number, number>();
      let peak = 0;
      let open = 0;
      const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
      const client = async () => {
        while (performance.now() < until) {
          const controller = new AbortController();
          const abort = Math.random() < ABORT_SHARE;
          const timer = abort ? setTimeout(() => controller.abort(), Math.random() * TOKENS * GAP_MS) : undefined;
          sent.total++;
          open++;
          peak = Math.max(peak, open);
          try {
            sent[await stream(url, agent, controller.signal, failures)]++;
          } finally {
            open--;
            clearTimeout(timer);
          }
        }
      };
      const clients = Array.from({ length: CONCURRENCY }, client);
      await sleep(WARM_UP_MS);
      const warm = await ask<{ heapUsed: number }>(child, 'heap');
      await sleep(until - performance.now() - 500);
      const loaded = await ask<{ heapUsed: number }>(child, 'heap');
      await Promise.all(clients);
      agent.destroy();
      const { arrived } = await ask<{ arrived: number }>(child, 'heap');
      const state = await settled(url, arrived, 30_000);
      const ratio = loaded.heapUsed / warm.heapUsed;
      console.log(
        `soak: ${sent.total} requests (${sent.completed} completed, ${sent.aborted} aborted, ${sent.failed} failed, ${sent.cut} cut), peak ${peak} open; ` +
          `heap after GC ${(warm.heapUsed / 2 ** 20).toFixed(1)} MiB after warm-up, ${(loaded.heapUsed / 2 ** 20).toFixed(1)} MiB at the end (×${ratio.toFixed(2)}); ` +
          `counted ${state.finished} of ${arrived}; slots held ${state.active}, in flight ${state.inFlight}`,
      );
      expect(peak).toBeGreaterThanOrEqual(CONCURRENCY);
      expect(sent.failed, `failed requests by status: ${JSON.stringify(Object.fromEntries(failures))}`).toBe(0);
      // A connection closed before its stream's end, not by this client: a machine busy with other test files
      // can make one rare (a slow loop past a timeout); a gateway that cut streams would make many.
      expect(sent.cut).toBeLessThanOrEqual(0.01 * sent.total);
      expect(sent.aborted).toBeGreaterThan(0.2 * sent.total);
      // A client that gives up within its first milliseconds may leave before its request arrives.
      expect(arrived).toBeLessThanOrEqual(sent.total);
      expect(arrived).toBeGreaterThanOrEqual(sent.completed + 0.9 * sent.aborted);
      expect(state).toMatchObject({ finished: arrived, e2e: arrived, ...IDLE });
      expect(state.reasons.abort).toBeGreaterThan(0);
      expect(ratio).toBeLessThanOrEqual(1.5);
    } finally {
      if (child?.connected) {
        const exited = new Promise((resolve) => child!.once('exit', resolve));
        child.send('stop');
        await Promise.race([exited, sleep(5000)]);
      }
      await upstream.close();
    }
  }, 150_000);
});
