import { execFileSync } from 'node:child_process';

/**
 * The path of a system binary a test needs, or undefined after printing a visible SKIPPED line.
 * Under CI a missing binary is a failure: `.ci/run` installs them, so a skip there would hide a broken setup.
 */
export function systemBinary(name: string, purpose: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch {
    if (process.env.CI) throw new Error(`${name} is missing under CI (needed for ${purpose}); .ci/run must install it`);
    console.log(`SKIPPED: ${purpose} (${name} is not installed)`);
    return undefined;
  }
}
