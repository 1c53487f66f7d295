/** Resolves after `ms` milliseconds: for a pause that is the point (a client that dawdles), never for waiting on a condition. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` until it returns something truthy and resolves with that; rejects after `timeoutMs` with
 * `what` (a function: read then, to describe the last state the caller saw) and the last value seen.
 * For waiting on a condition, where a fixed sleep would be either too short on a busy machine or
 * needlessly long on a quiet one.
 */
export async function waitUntil<T>(
  check: () => T | Promise<T>,
  { what = 'the condition', timeoutMs = 10_000, intervalMs = 20 }: { what?: string | (() => string); timeoutMs?: number; intervalMs?: number } = {},
): Promise<Exclude<T, false | 0 | '' | null | undefined>> {
  const deadline = performance.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (last) return last as Exclude<T, false | 0 | '' | null | undefined>;
    if (performance.now() >= deadline) throw new Error(`waited ${timeoutMs} ms for ${typeof what === 'function' ? what() : what}; last seen: ${String(last)}`);
    await sleep(intervalMs);
  }
}

