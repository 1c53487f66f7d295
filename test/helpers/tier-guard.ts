// Loaded before every test file, in both tiers (vitest.config.ts `setupFiles`): a file in the unit tier
// that starts a program fails at that call, naming itself, in `npm test` and CI as well as in
// `npm run test:unit`. So no contributor has to remember which tier a new file belongs to.
// It sees what the test process starts through node:child_process. A worker thread has a module
// registry of its own: the GPU poller's shell, which runs the tests' fake nvidia-smi, is out of its sight.
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { FULL_ONLY } from '../tiers.js';
import { allowedPrograms } from './binaries.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GUARDED = Symbol.for('inferwatch.test.tierGuard');
type Starter = 'spawn' | 'spawnSync' | 'execFile' | 'execFileSync' | 'exec' | 'execSync' | 'fork';
const STARTERS: Starter[] = ['spawn', 'spawnSync', 'execFile', 'execFileSync', 'exec', 'execSync', 'fork'];

/** The program a call starts: fork runs Node; exec, execSync and the `shell` option take a command line. */
function programOf(how: Starter, command: unknown, rest: unknown[]): string {
  if (how === 'fork') return process.execPath;
  const options = rest.find((a): a is { shell?: unknown } => typeof a === 'object' && a !== null && !Array.isArray(a));
  if (how === 'exec' || how === 'execSync' || options?.shell) return String(command).trim().split(/\s+/)[0];
  return String(command);
}

// The wrappers outlive the file that installed them when a process runs more files: one error class for all.
const ERROR = Symbol.for('inferwatch.test.UnitTierError');
type ErrorClass = new (message: string) => Error;
export const UnitTierError: ErrorClass = ((globalThis as Record<symbol, ErrorClass>)[ERROR] ??= class UnitTierError extends Error {});

function check(how: Starter, command: unknown, rest: unknown[]): void {
  const testPath = expect.getState().testPath;
  if (testPath === undefined) return;
  const file = relative(ROOT, testPath).split('\\').join('/');
  if (file in FULL_ONLY) return;
  const program = programOf(how, command, rest);
  if (allowedPrograms.has(program)) return;
  throw new UnitTierError(
    `${file} starts \`${program}\` (${how}), and it is in the unit tier, which starts no program. ` +
      'Reach a system binary through test/helpers/binaries.ts (the unit tier then skips the test), ' +
      'or list the file in FULL_ONLY in test/tiers.ts with what it needs.',
  );
}

// One wrapper per process, however many test files the process runs.
type Fn = ((...args: unknown[]) => unknown) & { [promisify.custom]?: Fn };
const guarded = (how: Starter, original: Fn): Fn =>
  function (this: unknown, command: unknown, ...rest: unknown[]) {
    check(how, command, rest);
    return original.call(this, command, ...rest);
  };
const target = childProcess as unknown as Record<Starter, Fn> & { [GUARDED]?: true };
if (!target[GUARDED]) {
  target[GUARDED] = true;
  for (const how of STARTERS) {
    const original = target[how];
    const wrapper = guarded(how, original);
    // promisify(execFile) and promisify(exec) use their own promise form, which must be guarded too.
    const custom = original[promisify.custom];
    if (custom) {
      wrapper[promisify.custom] = function (this: unknown, command: unknown, ...rest: unknown[]) {
        try {
          check(how, command, rest);
        } catch (error) {
          return Promise.reject(error);
        }
        return custom.call(this, command, ...rest);
      };
    }
    target[how] = wrapper;
  }
  // `import { spawn } from 'node:child_process'` reads the named exports, which follow only after this.
  syncBuiltinESMExports();
}
