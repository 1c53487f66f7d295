import { ROOT_CONTEXT } from '@opentelemetry/api';
import type { ClientMetrics, ClientOperation } from '@inferwatch/sdk';

const NO_OPERATION: ClientOperation = { chunk() {}, end() {}, fail() {}, spanContext: () => undefined, traceContext: () => ROOT_CONTEXT };

/**
 * Starts an operation on `metrics`, or returns one that records nothing when `metrics` is not a
 * ClientMetrics: a wrapper must never turn the app's LLM call into an exception of its own.
 */
export function startOperation(metrics: ClientMetrics, info: { model: string; operation: string; provider: string }): ClientOperation {
  try {
    return metrics.startOperation(info);
  } catch {
    return NO_OPERATION;
  }
}

/** `read()`, or `fallback` when it throws (a getter on a hostile or half-built object). */
export function attempt<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}
