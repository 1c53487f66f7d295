// Real inference at saturation: streamed tokens/s from examples/llama-server (node-llama-cpp, the tiny
// generated model, 4 sequences, 1 thread) with the SDK on ÷ off. More clients than sequences, so the
// queue, the pool and every per-token record are on the path. `node bench/llama.mjs` runs it alone.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, startChild } from '../scripts/lib/processes.mjs';
import { median, round } from './measure.mjs';

const SERVER = fileURLToPath(new URL('../examples/llama-server/server.mjs', import.meta.url));
const SEQUENCES = 4;
const CLIENTS = 8;

async function startServer(metrics) {
  const port = await freePort();
  const args = [SERVER, '--port', String(port), '--sequences', String(SEQUENCES), '--max-waiting', '64', '--metrics', metrics, '--log-interval-ms', '600000'];
  const { child } = await startChild(process.execPath, args, { ready: 'serving' });
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => child.kill('SIGKILL') };
}

/** CPU seconds (user + system, all threads) a process has used, from /proc; NaN where there is none. */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime and stime, fields 14 and 15 of the line, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Streams back to back from CLIENTS clients for `ms`; returns tokens received per second and in all. */
async function saturate(url, ms) {
  let tokens = 0;
  // Greedy decoding on the tiny model writes one chunk per token and always runs to max_tokens.
  const body = JSON.stringify({ model: 'tiny-llama', prompt: 'explain the history of distributed systems', max_tokens: 200, temperature: 0, stream: true });
  const deadline = performance.now() + ms;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < deadline) {
        const res = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        for await (const chunk of res.body) {
          // Count "data" events without parsing them: the client must not be the bottleneck.
          for (let i = chunk.indexOf(100); i !== -1; i = chunk.indexOf(100, i + 1)) if (chunk[i + 1] === 97 && chunk[i + 2] === 116) tokens++;
        }
        tokens -= 2; // the finish chunk and [DONE]
      }
    }),
  );
  return { perSecond: tokens / ((performance.now() - start) / 1000), tokens };
}

export async function llamaBench({ rounds = 5 } = {}) {
  const rate = { on: [], off: [] };
  const cpu = { on: [], off: [] };
  // Interleaved, so drift and noisy neighbours hit both alike.
  for (let r = 0; r < rounds; r++) {
    for (const mode of ['on', 'off']) {
      const server = await startServer(mode);
      try {
        await saturate(server.url, 1000);
        const cpuBefore = cpuSeconds(server.pid);
        const { perSecond, tokens } = await saturate(server.url, 4000);
        rate[mode].push(perSecond);
        // The server's CPU per token does not depend on how much of the machine others take.
        cpu[mode].push(((cpuSeconds(server.pid) - cpuBefore) / tokens) * 1e6);
      } finally {
        server.stop();
      }
    }
  }
  return {
    llama_tokens_per_s_ratio_sdk_on_off: round(median(rate.on) / median(rate.off), 3),
    llama_tokens_per_s_sdk_on: Math.round(median(rate.on)),
    llama_tokens_per_s_sdk_off: Math.round(median(rate.off)),
    llama_cpu_us_per_token_sdk_on: round(median(cpu.on)),
    llama_cpu_us_per_token_sdk_off: round(median(cpu.off)),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(JSON.stringify(await llamaBench(), null, 2));
