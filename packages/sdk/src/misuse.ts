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

/** Counts ignored calls per reason and warns once per reason through the OTel diag logger. */
export class MisuseLog {
  readonly counts = new Float64Array(MISUSE_REASONS.length);
  private readonly warned = new Uint8Array(MISUSE_REASONS.length);

  report(reason: MisuseReason, detail: string): void {
    const i = MISUSE_REASONS.indexOf(reason);
    this.counts[i]++;
    if (this.warned[i] === 0) {
      this.warned[i] = 1;
      diag.warn(`inferwatch: ignored a call (${reason}): ${detail}. Further calls like it are only counted in inferwatch.sdk.misuse.`);
    }
  }
}
