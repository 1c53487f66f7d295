import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const sdkDir = fileURLToPath(new URL('../../packages/sdk/', import.meta.url));

// The built handler finds the built page next to itself, from the ESM and the CJS file alike.
const snippet = `
  const { createServer } = require('node:http');
  const telemetry = startMetrics({ llm: createLlmMetrics({ log: false }), meterProvider: 'private' });
  const server = createServer((req, res) => telemetry.dashboardHandler(req, res)).listen(0, '127.0.0.1', async () => {
    const base = 'http://127.0.0.1:' + server.address().port;
    const page = await fetch(base + '/dashboard');
    const html = await page.text();
    const snapshot = await (await fetch(base + '/dashboard/snapshot')).json();
    console.log(page.status, html.includes('uPlot') || html.includes('uplot'), snapshot.metrics.some((m) => m.name === 'inferwatch.tokens'));
    server.close();
    await telemetry.shutdown();
  });
`;

describe('the built dashboard page', () => {
  it('is served by the ESM build', () => {
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url); import { createLlmMetrics, startMetrics } from '@inferwatch/sdk';${snippet}`],
      { cwd: sdkDir, encoding: 'utf8' },
    );
    expect(out.trim()).toBe('200 true true');
  });

  it('is served by the CommonJS build', () => {
    const out = execFileSync(process.execPath, ['-e', `const { createLlmMetrics, startMetrics } = require('@inferwatch/sdk');${snippet}`], { cwd: sdkDir, encoding: 'utf8' });
    expect(out.trim()).toBe('200 true true');
  });

  it('is in the published package', () => {
    const [pack] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: sdkDir, encoding: 'utf8' })) as { files: { path: string }[] }[];
    expect(pack.files.map((f) => f.path)).toContain('dist/dashboard.html');
  });
});
