import { diag } from '@opentelemetry/api';

/** Why a call was ignored. A closed set, so the self-metric's cardinality is fixed. */
export const MISUSE_REASONS = [
  'invalid_number',
  'invalid_timestamp',
  'after_end',
  'out_of_order',
  'invalid_argument',
  'callback_error',
] as const;
export type MisuseReason = (typeof MISUSE_REASONS)[number];

// Where @opentelemetry/api 1.x keeps its globals; `diag` is there only once someone called diag.setLogger().
const OTEL_API_GLOBAL = Symbol.for('opentelemetry.js.api.1');
const diagLoggerSet = () => (globalThis as Record<symbol, { diag?: unknown } | undefined>)[OTEL_API_GLOBAL]?.diag !== undefined;

// Across every recorder of the process: a plain app sees each kind of problem once, not once per recorder.
const printed = new Set<string>();

/**
 * Problems the host should hear about, each kind said once: through the OTel diag logger, and on
 * stderr when the app set no diag logger (a plain app never does, and would otherwise see nothing). An app
 * routes or silences them by setting one (`diag.setLogger(logger, DiagLogLevel.NONE)` silences).
 * Kinds are closed sets (misuse reasons, option names), so what is remembered stays bounded.
 */
export class Notices {
  private readonly said = new Set<string>();

  warn(kind: string, message: string): void {
    if (this.said.has(kind)) return;
    this.said.add(kind);
    const line = `inferwatch: ${message}`;
    diag.warn(line);
    if (printed.has(kind) || diagLoggerSet()) return;
    printed.add(kind);
    try {
      process.stderr.write(`${line}\n`);
    } catch {
      // A closed stderr is no reason to fail the call that found the problem.
    }
  }
}

/** An error as a notice quotes it: the first line of its message, at most 200 characters. */
export function errorText(error: unknown): string {
  let message: unknown;
  try {
    message = error instanceof Error ? error.message : undefined;
  } catch {
    // A hostile getter.
  }
  return typeof message === 'string' && message !== '' ? message.split('\n')[0].slice(0, 200) : 'unknown error';
}

/** For problems found where no recorder is at hand (a tap on a foreign handle, startMetrics). */
export const processNotices = new Notices();

/** A short, safe description of a value for a message: never throws, never echoes text. */
export function describe(value: unknown): string {
  switch (typeof value) {
    case 'number':
    case 'boolean':
    case 'undefined':
    case 'bigint':
      return String(value);
    case 'string':
      // Never the text itself: it may be a prompt or a completion.
      return `a string of ${value.length} characters`;
    case 'object':
      return value === null ? 'null' : 'an object';
    default:
      return `a ${typeof value}`;
  }
}

/** Counts ignored calls per reason and says the first of each reason (see Notices). */
export class MisuseLog {
  readonly counts = new Float64Array(MISUSE_REASONS.length);

  constructor(readonly notices: Notices = new Notices()) {}

  /** `kind` (from a closed set; default the reason) lets one particular problem be said even after others of its reason. */
  report(reason: MisuseReason, detail: string, kind: string = reason): void {
    const i = MISUSE_REASONS.indexOf(reason);
    this.counts[i]++;
    this.notices.warn(kind, `ignored a call (${reason}): ${detail}. Further calls like it are only counted in inferwatch.sdk.misuse.`);
  }
}
