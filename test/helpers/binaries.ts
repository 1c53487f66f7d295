import { execFileSync } from 'node:child_process';
import type { TestContext } from 'vitest';

/**
 * The path of a system binary a test needs, or undefined after printing a visible SKIPPED line; pair it
 * with `describe.skipIf(path === undefined)` so vitest counts the tests as skipped, not passed.
 * Under CI a missing binary is a failure: `.ci/run` installs them, so a skip there would hide a broken setup.
 */
export function systemBinary(name: string, purpose: string): string | undefined {
  const path = lookup(name, purpose);
  if (path === undefined) console.log(`SKIPPED: ${purpose} (${name} is not installed)`);
  return path;
}

function lookup(name: string, purpose: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch {
    if (process.env.CI) throw new Error(`${name} is missing under CI (needed for ${purpose}); .ci/run must install it`);
    return undefined;
  }
}

/** Inside a test: the binary's path, or the test ends here as skipped (with the reason as its note). */
export function requireBinary(ctx: TestContext, name: string, purpose: string): string {
  const path = lookup(name, purpose);
  if (path === undefined) ctx.skip(`${purpose}: ${name} is not installed`);
  return path;
}
