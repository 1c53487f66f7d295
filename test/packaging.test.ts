import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const sdkDir = fileURLToPath(new URL('../packages/sdk/', import.meta.url));

/** Runs a snippet in a plain Node process from the package folder, as a consumer would load the built files. */
function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: sdkDir, encoding: 'utf8' }).trim();
}

const snippet = `
  const llm = createLlmMetrics({ log: false });
  const r = llm.startRequest({ model: 'm' });
  r.firstToken(); r.tokens(2); r.end();
  llm.producer.collect().then((c) => {
    const tokens = c.resourceMetrics.scopeMetrics[0].metrics.find((m) => m.descriptor.name === 'inferwatch.tokens');
    console.log(typeof startMetrics, tokens.dataPoints.find((p) => p.attributes['gen_ai.token.type'] === 'output').value);
  });
`;

describe('the built package', () => {
  it('loads as ESM', () => {
    expect(node(['--input-type=module', '-e', `import { createLlmMetrics, startMetrics } from '@inferwatch/sdk';${snippet}`])).toBe('function 3');
  });

  it('loads as CommonJS', () => {
    expect(node(['-e', `const { createLlmMetrics, startMetrics } = require('@inferwatch/sdk');${snippet}`])).toBe('function 3');
  });

  it('ships type declarations for both', () => {
    expect(existsSync(`${sdkDir}dist/index.d.ts`)).toBe(true);
    expect(existsSync(`${sdkDir}dist/index.d.cts`)).toBe(true);
  });
});
