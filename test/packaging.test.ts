import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const dir = (name: string) => `${ROOT}packages/${name}/`;

// Each package, its public exports, loaded both ways from its built files.
const PACKAGES: Record<string, string[]> = {
  sdk: ['createLlmMetrics', 'startMetrics', 'createClientMetrics', 'createRuntimeMetrics', 'trackStream', 'extractTraceContext', 'injectTraceContext'],
  gpu: ['createGpuCollector'],
  http: ['instrumentNodeHttp', 'instrumentExpress', 'instrumentFastify', 'instrumentHono', 'isInferenceRoute', 'observeExchange', 'openExchange', 'requestHandle', 'HttpError'],
  client: ['instrumentOpenAI', 'instrumentAiSdk'],
  'llama-cpp': ['instrumentContext', 'QueueFullError', 'finishReasonOf'],
};

// One plain Node process per module system, loading every package the way a consumer does (through
// the package's `exports`, to its built files): each package's functions, and the output tokens one
// request recorded through the SDK (the first token and two more).
const program = (load: (name: string) => string) => `
  const found = {};
  for (const name of ${JSON.stringify(Object.keys(PACKAGES))}) {
    const m = ${load('`@inferwatch/${name}`')};
    found[name] = Object.keys(m).filter((k) => typeof m[k] === 'function').sort();
  }
  const { createLlmMetrics } = ${load("'@inferwatch/sdk'")};
  const llm = createLlmMetrics({ log: false });
  const r = llm.startRequest({ model: 'm' });
  r.firstToken(); r.tokens(2); r.end();
  llm.producer.collect().then((c) => {
    const tokens = c.resourceMetrics.scopeMetrics[0].metrics.find((m) => m.descriptor.name === 'inferwatch.tokens');
    console.log(JSON.stringify({ exports: found, output: tokens.dataPoints.find((p) => p.attributes['gen_ai.token.type'] === 'output').value }));
  });
`;

interface Loaded {
  exports: Record<string, string[]>;
  output: number;
}
const run = (args: string[]): Loaded => JSON.parse(execFileSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' }));

let esm: Loaded;
let cjs: Loaded;
beforeAll(() => {
  esm = run(['--input-type=module', '-e', `(async () => {${program((name) => `await import(${name})`)}})()`]);
  cjs = run(['-e', program((name) => `require(${name})`)]);
});

describe('the built packages', () => {
  it('@inferwatch/sdk records through its ESM build and its CommonJS build', () => {
    expect(esm.output).toBe(3);
    expect(cjs.output).toBe(3);
  });

  it.each(Object.entries(PACKAGES))('@inferwatch/%s exports the same functions from ESM and CJS, with types for both', (name, exports) => {
    expect(esm.exports[name]).toEqual([...exports].sort());
    expect(cjs.exports[name]).toEqual(esm.exports[name]);
    expect(existsSync(`${dir(name)}dist/index.d.ts`)).toBe(true);
    expect(existsSync(`${dir(name)}dist/index.d.cts`)).toBe(true);
  });

  // An app with only the SDK type-checks with skipLibCheck off (test/packaging-install.test.ts): its
  // declarations must not name an optional peer (@inferwatch/gpu, the OTLP exporters, the trace SDK), which such an app has not installed.
  it('@inferwatch/sdk’s declarations never import an optional peer', () => {
    const optional = Object.keys((JSON.parse(readFileSync(`${dir('sdk')}package.json`, 'utf8')) as { peerDependenciesMeta: Record<string, unknown> }).peerDependenciesMeta);
    expect(optional).toContain('@inferwatch/gpu');
    for (const file of readdirSync(`${dir('sdk')}dist`).filter((f) => f.endsWith('.d.ts') || f.endsWith('.d.cts'))) {
      const text = readFileSync(`${dir('sdk')}dist/${file}`, 'utf8');
      for (const name of optional) expect(text, `${file} names ${name}`).not.toContain(`'${name}'`);
    }
  });

  // The sibling packages reach the SDK's insides through '@inferwatch/sdk/internal', which must share the main
  // entry's classes in both builds: a recorder made through one is recognised by the other.
  it.each([
    ['ESM', ['--input-type=module', '-e'], (name: string) => `await import('${name}')`],
    ['CommonJS', ['-e'], (name: string) => `require('${name}')`],
  ])('@inferwatch/sdk/internal shares the main entry’s recorder in %s', (_, args, load) => {
    const script = `(async () => {
      const { diag, DiagLogLevel } = ${load('@opentelemetry/api')};
      let said = 0;
      diag.setLogger({ warn: () => said++, error() {}, info() {}, debug() {}, verbose() {} }, DiagLogLevel.WARN);
      const { createLlmMetrics } = ${load('@inferwatch/sdk')};
      const { noticeOnce } = ${load('@inferwatch/sdk/internal')};
      // Said once per recorder when each recorder is recognised; once in all through the process otherwise.
      for (const llm of [createLlmMetrics(), createLlmMetrics()]) noticeOnce(llm, 'k', 'message');
      console.log(said);
    })()`;
    expect(execFileSync(process.execPath, [...args, script], { cwd: `${ROOT}packages/http`, encoding: 'utf8' }).trim()).toBe('2');
  });
});
