import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// The whole repository (packages, tests, the examples as checked JavaScript, the page) type-checks with the settings it ships; run as a test
// file beside the TTFT truth test (vitest.config.ts) rather than before the suite, so the compiler's CPU
// overlaps that test's waiting.
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const TSC = `${ROOT}node_modules/typescript/bin/tsc`;

async function tsc(project: string): Promise<string> {
  try {
    await promisify(execFile)(process.execPath, [TSC, '-p', project], { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * 2 ** 20 });
    return '';
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message;
  }
}

describe('types', () => {
  // dashboards/tsconfig.json: the dashboard generator against Grafana's own types (@grafana/schema).
  it.each(['tsconfig.json', 'tsconfig.examples.json', 'packages/sdk/page/tsconfig.json', 'dashboards/tsconfig.json'])('%s type-checks', async (project) => {
    expect(await tsc(project)).toBe('');
  }, 180_000);
});
