import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort } from './helpers/net.js';
import { waitUntil } from './helpers/wait.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const sdkDir = fileURLToPath(new URL('../packages/sdk/', import.meta.url));
const snippetIn = (readme: string, name: string) => new RegExp(`<!-- snippet: ${name}[^>]*-->\\n\`\`\`js\\n([\\s\\S]*?)\`\`\``).exec(readme)?.[1];

describe('packages/sdk/README.md', () => {
  it('has a quick start that runs as written and records what it says', () => {
    const readme = readFileSync(`${sdkDir}README.md`, 'utf8');
    const snippet = snippetIn(readme, 'quickstart');
    expect(snippet).toBeDefined();
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', snippet!], { cwd: sdkDir, encoding: 'utf8' });
    const labels = 'gen_ai_request_model="llama-3.1-8b",gen_ai_operation_name="chat",gen_ai_provider_name="vllm"';
    expect(out.trim().split('\n')).toEqual([
      `inferwatch_tokens_total{${labels},gen_ai_token_type="input"} 42`,
      `inferwatch_tokens_total{${labels},gen_ai_token_type="output"} 4`,
    ]);
  });
});

describe('README.md', () => {
  const readme = readFileSync(`${ROOT}README.md`, 'utf8');
  const lines = readme.split('\n');

  it('starts with the library: the install line within the first 25 lines', () => {
    const install = lines.findIndex((line) => line.startsWith('npm install @inferwatch/sdk @opentelemetry/api'));
    expect(install).toBeGreaterThanOrEqual(0);
    expect(install).toBeLessThan(25);
  });

  it('has no line over 300 characters', () => {
    expect(lines.filter((line) => line.length > 300)).toEqual([]);
  });

  it('has a server that keeps running to be scraped, and records the requests it serves', async () => {
    const snippet = snippetIn(readme, 'server');
    expect(snippet).toBeDefined();
    // The ports the README names may be taken here: the same program on free ones.
    const [appPort, metricsPort] = [await freePort(), await freePort()];
    expect(snippet).toContain('port: 9464');
    expect(snippet).toContain('.listen(8000)');
    const script = snippet!.replace('port: 9464', `port: ${metricsPort}`).replace('.listen(8000)', `.listen(${appPort})`);
    // Without the NODE_PATH pnpm's bin shims set: an app resolves packages from its own node_modules only.
    const { NODE_PATH: _, ...env } = process.env;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: sdkDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    try {
      const reply = await waitUntil(() => fetch(`http://127.0.0.1:${appPort}/`).then((r) => r.text(), () => undefined), { what: 'the README server', timeoutMs: 15_000 });
      expect(reply).toBe('Hello, world\n');
      await fetch(`http://127.0.0.1:${appPort}/`).then((r) => r.text());
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const labels = 'gen_ai_request_model="my-model",gen_ai_operation_name="chat",gen_ai_provider_name="my-engine"';
      expect(metrics).toContain(`inferwatch_tokens_total{${labels},gen_ai_token_type="input"} 6`);
      expect(metrics).toContain(`inferwatch_tokens_total{${labels},gen_ai_token_type="output"} 8`);
      expect(metrics).toContain(`gen_ai_server_time_to_first_token_count{${labels}} 2`);
      expect(metrics).toContain(`inferwatch_requests_finished_total{${labels},finish_reason="stop"} 2`);
      // Still serving after the scrape: it does not exit on its own.
      expect(child.exitCode, stderr).toBeNull();
      expect(stderr).toBe('');
    } finally {
      child.kill();
    }
  });
});
