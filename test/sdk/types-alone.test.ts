import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { sdkAlone } from '../helpers/sdk-alone.js';

/**
 * An app that installs only @inferwatch/sdk and @opentelemetry/api type-checks with
 * skipLibCheck off: the SDK's published types must not import the optional @inferwatch/gpu.
 * (The pack-and-install test covers the tarballs; this one the types themselves.)
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const app = sdkAlone();
afterAll(() => app.remove());

const APP = `
import { createLlmMetrics, startMetrics, type GpuOption, type ReadyResult } from '@inferwatch/sdk';
import { metrics } from '@opentelemetry/api';

const llm = createLlmMetrics({ buckets: { 'gen_ai.server.time_to_first_token': [0.1, 1] } });
const gpu: GpuOption = { intervalMs: 10_000, maxGpus: 8 };
const telemetry = startMetrics({ llm, gpu, prometheus: { port: 9464 } });
const ready: ReadyResult = await telemetry.ready;
if (!ready.ok) console.error(ready.error.message);
metrics.getMeter('app');
await telemetry.shutdown();
`;

describe('the published types of @inferwatch/sdk', () => {
  it('never import @inferwatch/gpu', () => {
    for (const file of ['index.d.ts', 'index.d.cts']) {
      expect(readFileSync(join(ROOT, 'packages/sdk/dist', file), 'utf8')).not.toMatch(/(from\s*|import\(\s*)['"]@inferwatch\/gpu['"]/);
    }
  });

  it('type-check an app that has only the SDK and @opentelemetry/api, with skipLibCheck off', () => {
    writeFileSync(join(app.dir, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    writeFileSync(join(app.dir, 'app.ts'), APP);
    const compilerOptions = { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, skipLibCheck: false, types: ['node'] };
    writeFileSync(join(app.dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['app.ts'] }));
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', app.dir], { encoding: 'utf8' });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
    // tsc reads every declaration file of the SDK's dependencies (skipLibCheck off): tens of seconds on a busy machine.
  }, 180_000);
});
