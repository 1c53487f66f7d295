import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SDK = join(ROOT, 'packages/sdk');

/**
 * A folder outside the workspace where an app sees only the built @inferwatch/sdk, its own
 * dependencies, @opentelemetry/api and @types/node: what a user who installs just the SDK has.
 * In particular none of its optional peers (@inferwatch/gpu, the OTLP exporters, the trace SDK).
 * Needs `packages/sdk/dist` (the build).
 */
export function sdkAlone(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sdk-alone-'));
  const modules = join(dir, 'node_modules');
  const sdk = join(modules, '@inferwatch/sdk');
  mkdirSync(sdk, { recursive: true });
  cpSync(join(SDK, 'dist'), join(sdk, 'dist'), { recursive: true });
  cpSync(join(SDK, 'package.json'), join(sdk, 'package.json'));
  mkdirSync(join(modules, '@opentelemetry'), { recursive: true });
  const { dependencies } = JSON.parse(readFileSync(join(SDK, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  for (const name of [...Object.keys(dependencies), '@opentelemetry/api']) {
    symlinkSync(join(SDK, 'node_modules', name), join(modules, name), 'dir');
  }
  mkdirSync(join(modules, '@types'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules/@types/node'), join(modules, '@types/node'), 'dir');
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
