import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dir = (name: string) => fileURLToPath(new URL(`../packages/${name}/`, import.meta.url));

/** Runs a snippet in a plain Node process from the package folder, as a consumer would load the built files. */
function node(cwd: string, args: string[]): string {
  return execFileSync(process.execPath, args, { cwd, encoding: 'utf8' }).trim();
}

const sdkSnippet = `
  const llm = createLlmMetrics({ log: false });
  const r = llm.startRequest({ model: 'm' });
  r.firstToken(); r.tokens(2); r.end();
  llm.producer.collect().then((c) => {
    const tokens = c.resourceMetrics.scopeMetrics[0].metrics.find((m) => m.descriptor.name === 'inferwatch.tokens');
    console.log(typeof startMetrics, tokens.dataPoints.find((p) => p.attributes['gen_ai.token.type'] === 'output').value);
  });
`;

// Each package, its public exports, loaded both ways from its built files.
const PACKAGES: Record<string, string[]> = {
  sdk: ['createLlmMetrics', 'startMetrics', 'createClientMetrics', 'createRuntimeMetrics', 'trackStream', 'tapResponse', 'responseFormat', 'extractTraceContext', 'injectTraceContext'],
  gpu: ['createGpuCollector'],
  // The deprecated aliases (instrumentHandler, ...) stay exported until a major release.
  http: ['instrumentNodeHttp', 'instrumentExpress', 'instrumentFastify', 'instrumentHono', 'observeExchange', 'openExchange', 'requestHandle', 'HttpError', 'instrumentHandler', 'expressMiddleware', 'fastifyPlugin', 'honoMiddleware'],
  client: ['instrumentOpenAI', 'instrumentAiSdk', 'createClientMetrics', 'aiSdkMiddleware'],
  'llama-cpp': ['instrumentContext', 'QueueFullError', 'finishReasonOf'],
};

describe('the built packages', () => {
  it('@inferwatch/sdk records through its ESM build', () => {
    expect(node(dir('sdk'), ['--input-type=module', '-e', `import { createLlmMetrics, startMetrics } from '@inferwatch/sdk';${sdkSnippet}`])).toBe('function 3');
  });

  it('@inferwatch/sdk records through its CommonJS build', () => {
    expect(node(dir('sdk'), ['-e', `const { createLlmMetrics, startMetrics } = require('@inferwatch/sdk');${sdkSnippet}`])).toBe('function 3');
  });

  it.each(Object.entries(PACKAGES))('@inferwatch/%s exports the same functions from ESM and CJS, with types for both', (name, exports) => {
    const list = `Object.keys(m).filter((k) => typeof m[k] === 'function').sort().join(',')`;
    const esm = node(dir(name), ['--input-type=module', '-e', `import * as m from '@inferwatch/${name}'; console.log(${list})`]);
    const cjs = node(dir(name), ['-e', `const m = require('@inferwatch/${name}'); console.log(${list})`]);
    expect(esm).toBe([...exports].sort().join(','));
    expect(cjs).toBe(esm);
    expect(existsSync(`${dir(name)}dist/index.d.ts`)).toBe(true);
    expect(existsSync(`${dir(name)}dist/index.d.cts`)).toBe(true);
  });

  // An app with only the SDK type-checks with skipLibCheck off (test/packaging-install.test.ts): its
  // declarations must not name the optional @inferwatch/gpu, which such an app has not installed.
  it('@inferwatch/sdk’s declarations never import the optional @inferwatch/gpu', () => {
    for (const file of ['index.d.ts', 'index.d.cts']) {
      expect(readFileSync(`${dir('sdk')}dist/${file}`, 'utf8')).not.toMatch(/(from\s*|import\(\s*)['"]@inferwatch\/gpu['"]/);
    }
  });
});
