import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The tarballs `npm run pack` makes, installed the way users install packages: with npm, into an app
// outside the workspace (so nothing resolves through pnpm's links), then loaded from ESM and CommonJS
// and type-checked with skipLibCheck off, so the published declarations themselves must be sound.
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const INSTALL_TIMEOUT_MS = 150_000;
// The versions a user would add beside ours: the ranges the workspace itself builds against.
const DEV = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).devDependencies as Record<string, string>;
const USER_DEPS = [`@opentelemetry/api@^${DEV['@opentelemetry/api']}`, `@types/node@${DEV['@types/node']}`];

/** The environment without the NODE_PATH pnpm's bin shims set: an installed app resolves from its own node_modules only. */
function userEnv(): NodeJS.ProcessEnv {
  const { NODE_PATH: _, ...env } = process.env;
  return env;
}

function sh(command: string, args: string[], cwd: string, timeout = 120_000, env: Record<string, string> = {}): string {
  try {
    return execFileSync(command, args, { cwd, encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'], env: { ...userEnv(), npm_config_update_notifier: 'false', ...env } }).trim();
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

/** A node script's stdout and stderr, both kept (it is expected to succeed). */
function shWithStderr(command: string, args: string[], cwd: string, env: Record<string, string>): { stdout: string; stderr: string } {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 60_000, env: { ...userEnv(), ...env } });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${result.stdout}${result.stderr}`);
  return { stdout: result.stdout.trim(), stderr: result.stderr };
}

/** As `sh`, without blocking the test's own process while npm and tsc run. */
async function shAsync(command: string, args: string[], cwd: string, timeout = 120_000, env: Record<string, string> = {}): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(command, args, { cwd, encoding: 'utf8', timeout, env: { ...userEnv(), npm_config_update_notifier: 'false', ...env } });
    return stdout.trim();
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

/** A tarball's files by name, read in this process (ustar: 512-byte headers, each file padded to 512). */
function untar(file: string): Map<string, Buffer> {
  const tar = gunzipSync(readFileSync(file));
  const files = new Map<string, Buffer>();
  for (let at = 0; at + 512 <= tar.length && tar[at] !== 0; ) {
    const field = (start: number, length: number) => tar.subarray(at + start, at + start + length).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const name = [field(345, 155), field(0, 100)].filter(Boolean).join('/');
    files.set(name, tar.subarray(at + 512, at + 512 + size));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

const TSCONFIG = {
  compilerOptions: { strict: true, skipLibCheck: false, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, types: ['node'] },
  include: ['*.ts', '*.cts'],
};

/** An app's sources in `dir`, type-checked with its own tsconfig; its dependencies are in the folder above. */
function sources(dir: string, files: Record<string, string>): string {
  mkdirSync(dir);
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** `npm install deps` in `dir`, as a user adds packages to an app. */
const install = (dir: string, deps: string[]) => shAsync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...deps], dir, INSTALL_TIMEOUT_MS);

/** `tsc -p` in `dir`: its diagnostics, empty when it passes. Started early, awaited by the test. */
const typecheck = (dir: string) => shAsync(process.execPath, [TSC, '-p', join(dir, 'tsconfig.json')], dir).catch((error: Error) => error.message);
const node = (dir: string, file: string) => sh(process.execPath, [file], dir);

// One request through the recorder and its producer: prints the output tokens the SDK counted (the first token and two more).
const RECORD = `
  const llm = createLlmMetrics({ log: false });
  const r = llm.startRequest({ model: 'm' });
  r.firstToken(); r.tokens(2); r.end();
  const { resourceMetrics } = await llm.producer.collect();
  const tokens = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'inferwatch.tokens');
  console.log(tokens.dataPoints.find((p) => p.attributes['gen_ai.token.type'] === 'output').value);
`;

const NAMES = ['sdk', 'http', 'client', 'gpu', 'loadgen'];
const list = (load: string) => `${load}\nconsole.log(JSON.stringify(Object.fromEntries(m.map((x, i) => [${JSON.stringify(NAMES)}[i], Object.keys(x).filter((k) => typeof x[k] === 'function').sort()]))));`;

const SDK_ONLY: Record<string, string> = {
  'app.ts': `import { metrics } from '@opentelemetry/api';
import { createLlmMetrics, startMetrics, type StartMetricsOptions } from '@inferwatch/sdk';
const options: StartMetricsOptions = { serviceName: 'app', llm: createLlmMetrics({ log: false }), prometheus: false, meterProvider: 'private', gpu: { intervalMs: 5000 } };
const telemetry = startMetrics(options);
metrics.getMeter('app').createCounter('app.requests').add(1);
void telemetry.shutdown();
`,
  'app-cjs.cts': `import { createLlmMetrics } from '@inferwatch/sdk';
createLlmMetrics({ log: false }).startRequest({ model: 'm' }).end({ finishReason: 'stop' });
`,
  'esm.mjs': `import { createLlmMetrics } from '@inferwatch/sdk';\n${RECORD}`,
  'cjs.cjs': `const { createLlmMetrics } = require('@inferwatch/sdk');\n(async () => {${RECORD}})();`,
  // OTLP asked for by the environment, as an operator would: what ready says, then one export to the receiver.
  'otlp.mjs': `import { createLlmMetrics, startMetrics } from '@inferwatch/sdk';
const llm = createLlmMetrics();
llm.startRequest({ model: 'm' }).end();
const telemetry = startMetrics({ llm, prometheus: false, meterProvider: 'private' });
const ready = await telemetry.ready;
console.log(JSON.stringify({ otlp: ready.otlp.state, tracing: ready.tracing.state }));
await telemetry.forceFlush();
await telemetry.shutdown();
`,
};

const EVERYTHING: Record<string, string> = {
  'app.ts': `import { createServer } from 'node:http';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { createClientMetrics, createLlmMetrics, startMetrics } from '@inferwatch/sdk';
import { instrumentNodeHttp } from '@inferwatch/http';
import { instrumentAiSdk, instrumentOpenAI } from '@inferwatch/client';
import { createGpuCollector } from '@inferwatch/gpu';
import { formatReport, runBenchmark } from '@inferwatch/loadgen';

const llm = createLlmMetrics({ provider: 'app' });
const client = createClientMetrics();
const gpu = createGpuCollector({ intervalMs: 5000 });
// The app's own MeterProvider reads the SDK's producers.
const reader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), metricProducers: [llm.producer, client.producer, gpu.producer] });
new MeterProvider({ readers: [reader] });
// Or startMetrics' readers, handed to the app's own MeterProvider.
const running = startMetrics({ llm, meterProvider: false, prometheus: false });
new MeterProvider({ readers: running.metricReaders });
createServer(instrumentNodeHttp(llm, (_req, res) => res.end('ok')));
void instrumentAiSdk(client);
void instrumentOpenAI;
void runBenchmark({ baseUrl: 'http://127.0.0.1:1', model: 'm', numPrompts: 1 }).then((r) => formatReport(r));
`,
  'esm.mjs': list(`const m = await Promise.all(${JSON.stringify(NAMES.map((n) => `@inferwatch/${n}`))}.map((n) => import(n)));`),
  'cjs.cjs': list(`const m = ${JSON.stringify(NAMES.map((n) => `@inferwatch/${n}`))}.map((n) => require(n));`),
  // Recording through the app's own MeterProvider and reader, from the app's own @opentelemetry/sdk-metrics.
  'own-otel.mjs': `import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { createLlmMetrics } from '@inferwatch/sdk';
const llm = createLlmMetrics({ log: false });
const reader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), metricProducers: [llm.producer], exportIntervalMillis: 3_600_000 });
const provider = new MeterProvider({ readers: [reader] });
const r = llm.startRequest({ model: 'm' });
r.firstToken(); r.tokens(4); r.end();
const { resourceMetrics } = await reader.collect();
const tokens = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'inferwatch.tokens');
console.log(tokens.dataPoints.find((p) => p.attributes['gen_ai.token.type'] === 'output').value);
await provider.shutdown();
`,
  // Where each package's own import of @opentelemetry/sdk-metrics lands.
  'resolve.cjs': `const { createRequire } = require('node:module');
const at = (from) => createRequire(require.resolve(from)).resolve('@opentelemetry/sdk-metrics');
console.log(JSON.stringify({ app: require.resolve('@opentelemetry/sdk-metrics'), sdk: at('@inferwatch/sdk'), gpu: at('@inferwatch/gpu') }));
`,
};

/** Packages npm put in `dir`'s node_modules (nested ones included) and their size on disk, in MB. */
function footprint(dir: string): { packages: number; mb: number } {
  const parseable = sh('npm', ['ls', '--all', '--parseable'], dir).split('\n').filter((line) => line.includes('node_modules'));
  const bytes = Number(sh('du', ['-sb', join(dir, 'node_modules')], dir).split(/\s/)[0]);
  return { packages: new Set(parseable).size, mb: Math.round((bytes / 1e6) * 10) / 10 };
}

/** A local OTLP/HTTP receiver for the installed app to push to; counts what it got. */
async function receiver(): Promise<{ url: string; received: () => number; close: () => Promise<void> }> {
  let count = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.once('end', () => {
      count++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, received: () => count, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

// The OTLP packages a user adds for push, at the versions the workspace builds against.
const OTLP_PACKAGES = ['@opentelemetry/exporter-metrics-otlp-proto', '@opentelemetry/exporter-trace-otlp-proto', '@opentelemetry/sdk-trace-base'].map(
  (name) => `${name}@^${(JSON.parse(readFileSync(join(ROOT, 'packages', 'sdk', 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies[name]}`,
);

let tmp: string;
let tarballs: Record<string, string>;
const apps = { sdkOnly: '', everything: '' };
// Measured while only the SDK is installed, before the rest is added to the same app.
const sdkOnly = { typecheck: '', esm: '', cjs: '', footprint: { packages: 0, mb: 0 }, otlpMissing: { stdout: '', stderr: '' } };
const withOtlp = { footprint: { packages: 0, mb: 0 }, stdout: '', received: 0 };
let everythingTypecheck: Promise<string> = Promise.resolve('');
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'inferwatch-install-'));
  const packs = join(tmp, 'packs');
  await shAsync(process.execPath, [join(ROOT, 'scripts', 'pack.mjs'), '--out', packs], ROOT, 240_000);
  tarballs = Object.fromEntries(readdirSync(packs).map((f) => [/^inferwatch-(\w+)-/.exec(f)![1], join(packs, f)]));
  // One app, grown as a user grows it: first the SDK alone with the OTel API, exactly what the README's
  // install line installs (measured), then the app's own @types/node, then the OTLP exporters (measured
  // again), then every other package and the app's own sdk-metrics: each `npm install` writes only what is new.
  const root = join(tmp, 'app');
  mkdirSync(root);
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  apps.sdkOnly = sources(join(root, 'sdk-only'), SDK_ONLY);
  apps.everything = sources(join(root, 'everything'), EVERYTHING);
  await install(root, [tarballs.sdk, USER_DEPS[0]]);
  sdkOnly.footprint = footprint(root);
  await install(root, [USER_DEPS[1]]);
  sdkOnly.typecheck = await typecheck(apps.sdkOnly);
  sdkOnly.esm = node(apps.sdkOnly, 'esm.mjs');
  sdkOnly.cjs = node(apps.sdkOnly, 'cjs.cjs');
  const otlpEnv = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_TRACES_EXPORTER: 'otlp' };
  sdkOnly.otlpMissing = shWithStderr(process.execPath, ['otlp.mjs'], apps.sdkOnly, otlpEnv);
  await install(root, OTLP_PACKAGES);
  withOtlp.footprint = footprint(root);
  const rx = await receiver();
  try {
    withOtlp.stdout = (await shAsync(process.execPath, ['otlp.mjs'], apps.sdkOnly, 60_000, { ...otlpEnv, OTEL_EXPORTER_OTLP_ENDPOINT: rx.url })).trim();
    withOtlp.received = rx.received();
  } finally {
    await rx.close();
  }
  // The app's own sdk-metrics: the newest 2.x, which may be newer than the one the workspace locks.
  await install(root, [...NAMES.map((n) => tarballs[n]), `@opentelemetry/sdk-metrics@^${DEV['@opentelemetry/sdk-metrics']}`]);
  everythingTypecheck = typecheck(apps.everything);
}, 240_000 + 4 * INSTALL_TIMEOUT_MS);
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the packed tarballs', () => {
  it('are every publishable package, with LICENSE, README and no workspace: ranges', () => {
    expect(Object.keys(tarballs).sort()).toEqual(['client', 'gpu', 'http', 'llama', 'loadgen', 'sdk']);
    const license = readFileSync(join(ROOT, 'LICENSE'));
    for (const [name, file] of Object.entries(tarballs)) {
      const files = untar(file);
      expect([...files.keys()], name).toEqual(expect.arrayContaining(['package/LICENSE', 'package/README.md', 'package/package.json', 'package/dist/index.js', 'package/dist/index.d.ts']));
      expect(files.get('package/LICENSE')!.equals(license), `${name}'s LICENSE is the root's`).toBe(true);
      expect(files.get('package/package.json')!.toString(), name).not.toContain('workspace:');
    }
    expect(untar(tarballs.sdk).get('package/dist/metrics.md')!.toString()).toBe(readFileSync(join(ROOT, 'docs', 'metrics.md'), 'utf8'));
  });
});

describe('an app with @inferwatch/sdk and @opentelemetry/api only', () => {
  it('installs what Prometheus pull and the recorder need, and nothing else: at most 8 packages and 22 MB', () => {
    console.log(`install footprint: SDK alone ${JSON.stringify(sdkOnly.footprint)}; with the OTLP exporters ${JSON.stringify(withOtlp.footprint)}`);
    expect(sdkOnly.footprint.packages).toBeLessThanOrEqual(8);
    expect(sdkOnly.footprint.mb).toBeLessThanOrEqual(22);
  });

  it('with OTLP asked for and its exporters missing: ready says so, and the exact npm install line is printed once each', () => {
    expect(JSON.parse(sdkOnly.otlpMissing.stdout)).toEqual({ otlp: 'failed', tracing: 'failed' });
    const lines = sdkOnly.otlpMissing.stderr.split('\n');
    expect(lines.filter((l) => l.includes('Run: npm install @opentelemetry/exporter-metrics-otlp-proto'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('Run: npm install @opentelemetry/sdk-trace-base @opentelemetry/exporter-trace-otlp-proto'))).toHaveLength(1);
  });

  it('with the OTLP exporters installed: pushes to the collector', () => {
    expect(JSON.parse(withOtlp.stdout)).toEqual({ otlp: 'on', tracing: 'on' });
    expect(withOtlp.received).toBeGreaterThanOrEqual(1);
  });

  it('type-checks against the published declarations (ESM and CommonJS) with skipLibCheck off', () => {
    expect(sdkOnly.typecheck).toBe('');
  });

  it('records from ESM and from CommonJS', () => {
    expect(sdkOnly.esm).toBe('3');
    expect(sdkOnly.cjs).toBe('3');
  });
});

describe('an app with every package beside its own OpenTelemetry SDK', () => {
  const dir = () => apps.everything;

  it('type-checks against the published declarations with skipLibCheck off', async () => {
    expect(await everythingTypecheck).toBe('');
  }, 120_000);

  it('loads every package from ESM and from CommonJS, with the exports the workspace builds', () => {
    const esm = JSON.parse(node(dir(), 'esm.mjs'));
    expect(JSON.parse(node(dir(), 'cjs.cjs'))).toEqual(esm);
    const built = list(`const m = await Promise.all(${JSON.stringify(NAMES.map((n) => join(ROOT, 'packages', n, 'dist', 'index.js')))}.map((f) => import(f)));`);
    expect(esm).toEqual(JSON.parse(sh(process.execPath, ['--input-type=module', '-e', built], ROOT)));
  });

  it('shares the app’s own @opentelemetry/sdk-metrics instead of installing a second copy', () => {
    const where = JSON.parse(node(dir(), 'resolve.cjs'));
    expect(where.sdk).toBe(where.app);
    expect(where.gpu).toBe(where.app);
    expect(node(dir(), 'own-otel.mjs')).toBe('5');
  });

  it('shares one copy of each OpenTelemetry package between the app and every @inferwatch package', () => {
    // Carets, not exact pins: an exact pin beside the app's caret installed seven OTel packages twice (86 MB with
    // express and openai), nested under ours. OTel's own exporters pin their siblings exactly, so copies nested
    // under them follow the registry's (or a stale cache's) versions, not ours: only ours are checked.
    const paths = new Set(sh('npm', ['ls', '--all', '--parseable'], join(tmp, 'app')).split('\n'));
    expect([...paths].filter((p) => /node_modules\/@inferwatch\/[^/]+\/node_modules\/@opentelemetry\//.test(p))).toEqual([]);
    for (const name of ['core', 'resources', 'sdk-metrics']) expect(paths).toContain(join(tmp, 'app', 'node_modules', '@opentelemetry', name));
  });

  it('runs the load generator as its README says: npx @inferwatch/loadgen --help', () => {
    expect(readFileSync(join(ROOT, 'packages', 'loadgen', 'README.md'), 'utf8')).toContain('npx @inferwatch/loadgen --base-url');
    // Offline: the installed package, never one fetched from the registry.
    expect(sh('npx', ['@inferwatch/loadgen', '--help'], dir(), 60_000, { npm_config_offline: 'true', npm_config_yes: 'false' })).toMatch(/^inferwatch-bench: /);
  });
});
