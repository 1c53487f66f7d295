/**
 * A caller's clock, guarded: a reading that throws or is not a finite number comes back as NaN, which every
 * recorder treats as a bad timestamp (the event it dates is ignored and counted), never as a time.
 */
export function guardedClock(clock: () => number): () => number {
  return () => {
    try {
      const t: unknown = clock();
      return typeof t === 'number' && Number.isFinite(t) ? t : NaN;
    } catch {
      return NaN;
    }
  };
}

/** The process's monotonic clock in milliseconds: the default of every recorder. */
export const processClock: () => number = performance.now.bind(performance);
