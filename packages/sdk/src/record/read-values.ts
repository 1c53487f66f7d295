/**
 * Reading what a caller handed in, defensively: the server recorder, the client recorder and the
 * response tap read counts and errors the same way, so one error reads as one `error.type` everywhere.
 */

/** A token count: a non-negative safe integer. */
export const isCount = (n: unknown): n is number => typeof n === 'number' && n >= 0 && Number.isSafeInteger(n);

// GenAI conventions: error.type SHOULD be the provider's or library's error code, else the canonical
// name of the error. Hence `code` first; `type` next (OpenAI bodies, whose `code` is often null).
const ERROR_TYPE_KEYS = ['code', 'type', 'status', 'statusCode', 'name'] as const;

/**
 * The `error.type` of a failure: a string error itself; else the error's `code`, `type`, `status`,
 * `statusCode` or `name`, the first that is a string or a number; else undefined (the caller's
 * fallback, `_OTHER`). A getter that throws reads as nothing found.
 */
export function errorType(error: unknown): string | undefined {
  if (typeof error === 'string') return error;
  if (typeof error !== 'object' || error === null) return undefined;
  try {
    for (const key of ERROR_TYPE_KEYS) {
      const candidate = (error as Record<string, unknown>)[key];
      if (typeof candidate === 'string' || typeof candidate === 'number') return String(candidate);
    }
  } catch {
    // A hostile error still fails the request, as _OTHER.
  }
  return undefined;
}
