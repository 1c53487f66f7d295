// Through the gateway at saturation: streamed tokens/s with the SDK on ÷ off (same proxy code, same
// fast upstream, same environment: the GPU poller off in both, nvidia-smi or not). And the most
// concurrent streams the load generator keeps up with on one core.
import { fileURLToPath } from 'node:url';
import { runBenchmark } from '@inferwatch/loadgen';
import { freePort, startChild } from '../scripts/lib/processes.mjs';
import { GATEWAY_ROUNDS } from './constants.mjs';
import { median, round } from './measure.mjs';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

async function start(script, args, env = {}) {
  const port = await freePort();
  const argv = [script, ...args.map((a) => (a === '$PORT' ? String(port) : a))];
  const { child } = await startChild(process.execPath, argv, { ready: /ready|gateway on/, env: { PORT: String(port), ...env } });
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
}

/** Streams back to back from `concurrency` clients for `ms`; returns content tokens received per second. */
async function saturate(url, concurrency, ms) {
  let tokens = 0;
  const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }], max_tokens: 200, stream: true });
  const deadline = performance.now() + ms;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        // Anything but a stream (a 404 for a model the gateway does not serve, a 429) would count as no tokens, silently.
        if (res.status !== 200) throw new Error(`the gateway answered ${res.status}: ${await res.text()}`);
        for await (const chunk of res.body) {
          // Count events without parsing them: the client must not be the bottleneck.
          for (let i = chunk.indexOf(100); i !== -1; i = chunk.indexOf(100, i + 1)) if (chunk[i + 1] === 97 && chunk[i + 2] === 116) tokens++;
        }
        tokens -= 2; // the finish chunk and [DONE]
      }
    }),
  );
  return tokens / ((performance.now() - start) / 1000);
}

async function tokensRatio() {
  const upstream = await start(here('./fast-upstream.mjs'), []);
  const gateway = here('../examples/gateway/main.mjs');
  const on = [];
  const off = [];
  try {
    for (let round = 0; round < GATEWAY_ROUNDS; round++) {
      // Alternating which mode goes first, so neither always runs on a warmer (or noisier) machine.
      const modes = [['on', on], ['off', off]];
      for (const [mode, list] of round % 2 ? modes.reverse() : modes) {
        const g = await start(gateway, ['--port', '$PORT', '--host', '127.0.0.1', '--upstream', upstream.url, '--metrics', mode, '--log-interval-ms', '600000', '--bridge-interval-ms', '0', '--max-concurrency', '1024']);
        await saturate(g.url, 32, 1000);
        list.push(await saturate(g.url, 32, 4000));
        g.stop();
      }
    }
  } finally {
    upstream.stop();
  }
  return {
    // Each round's two modes run back to back, so the ratio of a round cancels slow drift; the figure
    // is the median of those paired ratios.
    gateway_tokens_per_s_ratio_sdk_on_off: round(median(on.map((x, i) => x / off[i])), 3),
    gateway_tokens_per_s_sdk_on: Math.round(median(on)),
    gateway_tokens_per_s_sdk_off: Math.round(median(off)),
    // Every round, so a reader can see the spread behind the medians.
    gateway_tokens_per_s_sdk_on_rounds: on.map(Math.round),
    gateway_tokens_per_s_sdk_off_rounds: off.map(Math.round),
  };
}

/** Streams of 20 tokens 100 ms apart: sustained when all finish and the client's mean ITL stays within 10 % of 100 ms. */
async function maxStreams() {
  const upstream = await start(here('./fast-upstream.mjs'), [], { GAP_MS: '100' });
  let sustained = 0;
  try {
    for (const n of [250, 500, 1000, 2000, 3000, 4000]) {
      const result = await runBenchmark({ baseUrl: upstream.url, endpoint: '/v1/chat/completions', model: 'm', numPrompts: n, requestRate: Infinity, maxConcurrency: n, seed: 1 });
      const keptUp = result.failed === 0 && result.itl.mean <= 110;
      if (!keptUp) break;
      sustained = n;
    }
  } finally {
    upstream.stop();
  }
  return { loadgen_max_concurrent_streams: sustained };
}

export async function gatewayBench() {
  return { ...(await tokensRatio()), ...(await maxStreams()) };
}
