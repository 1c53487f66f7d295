/**
 * `@inferwatch/sdk/internal`: what the other @inferwatch packages need of the SDK's insides, and nothing an
 * app should use. No stability promise: it changes with the packages that use it, released together.
 */
import { Recorder } from './record/recorder.js';
import { processNotices } from './record/notices.js';

export { tapResponse, responseFormat } from './streams/sse-tap.js';
export type { ResponseTap, TapOptions } from './streams/sse-tap.js';
export { collection, counterData, gaugeData, type MetricName } from './export/metric-data.js';
export { addNative, histogramQuantile, nativeQuantile, rate, subtractNative, type Bucket, type NativeBuckets, type Sample } from './query/promql.js';

/**
 * Says a problem of an integration built on `llm` once per `kind` (a fixed name), as the recorder says its
 * own: through the OTel diag logger, and on stderr when the app set none. Never throws.
 */
export function noticeOnce(llm: unknown, kind: string, message: string): void {
  try {
    const notices = llm instanceof Recorder ? llm.misuse.notices : processNotices;
    notices.warn(`integration:${kind}`, message);
  } catch {
    // A diag logger that throws must not reach the integration's caller.
  }
}
