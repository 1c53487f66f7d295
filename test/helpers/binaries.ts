import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'vitest';
import { UNIT_TIER_ENV } from '../tiers.js';

// The only programs test/helpers/tier-guard.ts lets a unit-tier file start: the system binaries found
// here (in the full suite; in the unit tier none is found) and a test's fake nvidia-smi. On globalThis,
// so that every copy of this module in a test process shares them.
const ALLOWED = Symbol.for('inferwatch.test.allowedPrograms');
export const allowedPrograms: Set<string> = ((globalThis as Record<symbol, Set<string>>)[ALLOWED] ??= new Set());

/** True in the unit tier, which vitest.unit.config.ts marks in the environment of every test process. */
export const unitTier = () => process.env[UNIT_TIER_ENV] === 'unit';

/**
 * The path of a system binary a test needs, or undefined after printing a visible SKIPPED line; pair it
 * with `describe.skipIf(path === undefined)` so vitest counts the tests as skipped, not passed.
 * Under CI a missing binary is a failure: `.ci/run` installs them, so a skip there would hide a broken setup.
 * In the unit tier (`npm run test:unit`) every system binary counts as missing: the tier starts none.
 */
export function systemBinary(name: string, purpose: string): string | undefined {
  const path = lookup(name, purpose);
  if (path === undefined) console.log(`SKIPPED: ${purpose} (${missing(name)})`);
  return path;
}

/** Inside a test: the binary's path, or the test ends here as skipped (with the reason as its note). */
export function requireBinary(ctx: TestContext, name: string, purpose: string): string {
  const path = lookup(name, purpose);
  if (path === undefined) ctx.skip(`${purpose}: ${missing(name)}`);
  return path;
}

const missing = (name: string) => (unitTier() ? `${name}: npm test runs it; the unit tier starts no program` : `${name} is not installed`);

function lookup(name: string, purpose: string): string | undefined {
  if (unitTier()) return undefined;
  const path = onPath(name);
  if (path === undefined && process.env.CI) throw new Error(`${name} is missing under CI (needed for ${purpose}); .ci/run must install it`);
  if (path !== undefined) allowedPrograms.add(name).add(path);
  return path;
}

/** What `command -v name` finds, read from PATH here: asking a shell would start a program itself. */
function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      if (statSync(path).isFile()) return path;
    } catch {
      // Not here: the next folder on PATH.
    }
  }
  return undefined;
}
