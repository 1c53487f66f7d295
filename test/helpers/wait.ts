/**
 * Polls `check` until it returns something truthy and resolves with that; rejects after `timeoutMs` with
 * `what` and the last value seen. For waiting on a condition, where a fixed sleep would be either
 * too short on a busy machine or needlessly long on a quiet one.
 */
export async function waitUntil<T>(
  check: () => T | Promise<T>,
  { what = 'the condition', timeoutMs = 10_000, intervalMs = 20 }: { what?: string; timeoutMs?: number; intervalMs?: number } = {},
): Promise<Exclude<T, false | 0 | '' | null | undefined>> {
  const deadline = performance.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (last) return last as Exclude<T, false | 0 | '' | null | undefined>;
    if (performance.now() >= deadline) throw new Error(`waited ${timeoutMs} ms for ${what}; last seen: ${String(last)}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Resolves after `ms`: for pacing a loop (a reader's scrape interval), never for waiting on a condition. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
