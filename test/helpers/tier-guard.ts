// Loaded before every test file, in both tiers (vitest.config.ts `setupFiles`), it holds the unit tier's
// files to the tier's rules (test/tiers.ts), in `npm test` and CI as well as in `npm run test:unit`, so
// no contributor has to remember them:
// - a file that starts a program fails at that call, naming itself. It sees what the test process starts
//   through node:child_process; a worker thread has a module registry of its own, so the GPU poller's
//   shell, which runs the tests' fake nvidia-smi, is out of its sight;
// - a file that shares its process with others (all but OWN_PROCESS) fails at its end if it leaves
//   process-wide state behind for the next one: OpenTelemetry globals, the environment, patched output
//   or clock, fake timers.
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, vi } from 'vitest';
import { FULL_ONLY, OWN_PROCESS } from '../tiers.js';
import { allowedPrograms } from './binaries.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const testFile = (path: string | undefined) => (path === undefined ? '' : relative(ROOT, path).split('\\').join('/'));
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
  const file = testFile(expect.getState().testPath);
  if (file === '' || file in FULL_ONLY) return;
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

// What this process had before its first test file ran: the next file must find the same.
type Originals = { stderr: unknown; stdout: unknown; log: unknown; warn: unknown; error: unknown; now: unknown };
const ORIGINALS = Symbol.for('inferwatch.test.processOriginals');
const originals: Originals = ((globalThis as Record<symbol, Originals>)[ORIGINALS] ??= {
  stderr: process.stderr.write,
  stdout: process.stdout.write,
  log: console.log,
  warn: console.warn,
  error: console.error,
  now: performance.now,
});
const OTEL_GLOBALS = Symbol.for('opentelemetry.js.api.1');
/** The environment now, to compare with `leftBehind`. */
export const environment = () => new Map(Object.entries(process.env));

/** The process-wide state changed since `before` (the environment then) and since this process's first file. */
export function leftBehind(before: Map<string, string | undefined>): string[] {
  const left: string[] = [];
  const otel = Object.keys((globalThis as Record<symbol, object | undefined>)[OTEL_GLOBALS] ?? {}).filter((k) => k !== 'version');
  if (otel.length > 0) left.push(`OpenTelemetry globals (${otel.join(', ')})`);
  const now = environment();
  const changed = [...new Set([...before.keys(), ...now.keys()])].filter((k) => before.get(k) !== now.get(k));
  if (changed.length > 0) left.push(`environment variables (${changed.join(', ')})`);
  const patched = {
    'process.stderr.write': process.stderr.write !== originals.stderr,
    'process.stdout.write': process.stdout.write !== originals.stdout,
    'console.log': console.log !== originals.log,
    'console.warn': console.warn !== originals.warn,
    'console.error': console.error !== originals.error,
    'performance.now': performance.now !== originals.now,
  };
  for (const [what, is] of Object.entries(patched)) if (is) left.push(what);
  if (vi.isFakeTimers()) left.push('fake timers');
  return left;
}

const sharing = testFile(expect.getState().testPath);
if (sharing !== '' && !(sharing in FULL_ONLY) && !(sharing in OWN_PROCESS)) {
  let before: Map<string, string | undefined>;
  beforeAll(() => {
    before = environment();
  });
  afterAll(() => {
    const left = leftBehind(before);
    if (left.length > 0) {
      throw new UnitTierError(
        `${sharing} leaves process-wide state behind: ${left.join('; ')}. The unit tier runs the next file in the same process: ` +
          'restore it, or list the file in OWN_PROCESS in test/tiers.ts with why it needs a process of its own.',
      );
    }
  });
}
