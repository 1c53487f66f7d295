// Parsing costs what the input is worth: two clients streaming deeply nested 10 MB bodies at full
// speed leave the median latency of well-formed requests within 2× of the quiet baseline, which the
// test measures first against the same gateway process.
import { spawn } from 'node:child_process';
import { setPriority } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess, type Started } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';
import { MODEL, scriptedUpstream } from './harness.js';

let upstream: Awaited<ReturnType<typeof scriptedUpstream>>;
let gateway: Started;
beforeAll(async () => {
  upstream = await scriptedUpstream({ tokens: 5, gapMs: 0 });
  gateway = await startProcess('examples/gateway/main.mjs', ['--host', '127.0.0.1', '--upstream', upstream.url, '--log-interval-ms', '0', '--bridge-interval-ms', '0'], 'OpenAI-compatible gateway on');
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.close();
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Latencies (ms) of `n` well-formed completions, one after another. */
async function wellFormed(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(`${gateway.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, prompt: 'hi', max_tokens: 5 }) });
    await res.text();
    expect(res.status).toBe(200);
    out.push(performance.now() - t0);
  }
  return out;
}

/**
 * Two attackers in a process of their own (so they take no time from the client measuring): each
 * sends a deeply nested 10 MB body (under the body cap: the cost must come from parsing, not a 413),
 * again and again, and prints every status it gets (0: the connection was cut first).
 */
const ATTACKERS = `
import { request } from 'node:http';
const [url, model] = process.argv.slice(-2);
const depth = 5 * 1024 * 1024 - 64;
const body = Buffer.from('{"model":"' + model + '","messages":' + '['.repeat(depth) + ']'.repeat(depth) + '}');
const attack = () => new Promise((resolve) => {
  const req = request(url + '/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
    res.resume();
    res.once('end', () => resolve(res.statusCode));
  });
  req.once('error', () => resolve(0));
  req.end(body);
});
for (const _ of [0, 1]) (async () => { for (;;) console.log(await attack()); })();
`;

describe('the gateway under a JSON nesting attack', () => {
  it('keeps the median latency of well-formed requests within 2× of quiet', async () => {
    // 10 MB minus a little, under the body cap: the cost must come from parsing, not from a 413.
    await wellFormed(10); // warm-up
    const quiet = median(await wellFormed(40));
    const attackers = spawn(process.execPath, ['--input-type=module', '-e', ATTACKERS, gateway.url, MODEL], { stdio: ['ignore', 'pipe', 'inherit'] });
    // At the lowest priority: the attackers stand for other machines, so the CPU they burn writing
    // 10 MB bodies should not be taken from the gateway on a shared test machine.
    setPriority(attackers.pid!, 19);
    let out = '';
    attackers.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const statuses = () => out.split('\n').filter(Boolean).map(Number);
    let loaded: number;
    try {
      // The attack is under way before measuring.
      await waitUntil(() => statuses().length >= 4, { what: 'four attack bodies answered', timeoutMs: 30_000, intervalMs: 10 });
      loaded = median(await wellFormed(40));
    } finally {
      attackers.kill();
    }
    console.log(`median latency: quiet ${quiet.toFixed(1)} ms, under attack ${loaded.toFixed(1)} ms (${statuses().length} attack bodies)`);
    expect(statuses().every((s) => s === 400 || s === 0)).toBe(true);
    expect(statuses().filter((s) => s === 400).length).toBeGreaterThan(0);
    expect(loaded).toBeLessThanOrEqual(2 * quiet);
  }, 60_000);
});
