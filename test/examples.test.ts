import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/net.js';
import { waitUntil } from './helpers/wait.js';
import { TOKENS, scriptedUpstream } from './helpers/upstream.js';

const dir = fileURLToPath(new URL('../examples/integrations/', import.meta.url));
// Asynchronous: the scripted upstream the examples call lives in this very process.
const run = promisify(execFile);

/** Starts an example and resolves once it says it listens. */
function start(file: string, env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, [file], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve(child));
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
  });
}

const FINISHED = 'inferwatch_requests_finished_total{gen_ai_request_model="demo",gen_ai_operation_name="chat",gen_ai_provider_name="unknown",finish_reason="stop"} 1';

describe.each(['node-http.mjs', 'express.mjs', 'fastify.mjs', 'hono.mjs'])('examples/integrations/%s', (file) => {
  it('serves a streamed completion and counts it on /metrics', async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    const child = await start(file, { PORT: String(port), METRICS_PORT: String(metricsPort) });
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'demo', stream: true, messages: [] }),
      });
      expect(await res.text()).toContain('data: [DONE]');
      const metricsUrl = `http://127.0.0.1:${file === 'hono.mjs' ? metricsPort : port}/metrics`;
      const text = await waitUntil(async () => {
        const page = await (await fetch(metricsUrl)).text();
        return page.split('\n').includes(FINISHED) && page;
      }, { what: `${FINISHED} on ${metricsUrl}` });
      expect(text.split('\n')).toContain(FINISHED);
    } finally {
      child.kill();
    }
  });
});

describe('client examples', () => {
  let upstream: Awaited<ReturnType<typeof scriptedUpstream>>;
  beforeAll(async () => {
    upstream = await scriptedUpstream();
  });
  afterAll(() => upstream.close());

  it.each(['openai-client.mjs', 'ai-sdk.mjs'])('%s prints the reply and its client metrics', async (file) => {
    const { stdout: out } = await run(process.execPath, [file], { cwd: dir, env: { ...process.env, BASE_URL: `${upstream.url}/v1`, MODEL: 'm' }, encoding: 'utf8' });
    expect(out).toContain(TOKENS.join(''));
    expect(out).toMatch(/gen_ai\.client\.token\.usage \{.*gen_ai\.token\.type=output\} count=1 sum=5/);
    expect(out).toMatch(/gen_ai\.client\.operation\.time_to_first_chunk \{.*\} count=1/);
  });

  it('stream-tracker.mjs records its time to first token', async () => {
    const started = performance.now();
    const { stdout: out } = await run(process.execPath, ['stream-tracker.mjs'], { cwd: dir, encoding: 'utf8' });
    const elapsedMs = performance.now() - started;
    expect(out).toContain('The sky is blue.');
    const ms = Number(/time to first token: (\d+) ms/.exec(out)?.[1]);
    // Its generator sleeps 50 ms before each of five tokens: the first token's 50 below; above, the run
    // as this test timed it less the four sleeps that follow the first token.
    expect(ms).toBeGreaterThanOrEqual(49);
    expect(ms).toBeLessThanOrEqual(elapsedMs - 4 * 50);
  });
});
