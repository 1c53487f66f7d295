/**
 * The recorders' public factories: each recorder is wired to the producer that exports it (and, for the
 * server recorder, to its log line), so the record layer never imports the export layer.
 */
import { ClientMetricProducer, LlmMetricProducer } from '../export/producer.js';
import { PeriodicLogLine } from '../export/log-line.js';
import { ClientRecorder, type ClientMetrics, type ClientMetricsOptions } from '../record/client.js';
import { Notices, processNotices } from '../record/notices.js';
import { Recorder, type LlmMetrics, type LlmMetricsOptions } from '../record/recorder.js';
import { readOptions } from './options.js';

const LLM_OPTION_KEYS = [
  'clock',
  'provider',
  'operation',
  'maxModels',
  'models',
  'maxAttributeLength',
  'attributes',
  'histograms',
  'buckets',
  'nativeHistograms',
  'log',
  'tracerProvider',
] as const satisfies ReadonlyArray<keyof LlmMetricsOptions>;

const CLIENT_OPTION_KEYS = ['provider', 'maxModels', 'clock', 'tracerProvider', 'histograms', 'nativeHistograms'] as const satisfies ReadonlyArray<keyof ClientMetricsOptions>;

const outputs = {
  producer: (recorder: Recorder) => new LlmMetricProducer(recorder),
  logLine: (recorder: Recorder, options: { intervalMs?: number; sink?: (line: string) => void }) => new PeriodicLogLine(recorder, options),
};

/** Creates a recorder. Give it to `startMetrics({ llm })` (or its `producer` to your own OTel readers) to export what it records. */
export function createLlmMetrics(options: LlmMetricsOptions = {}): LlmMetrics {
  const notices = new Notices();
  try {
    return new Recorder((readOptions(options, 'createLlmMetrics()', LLM_OPTION_KEYS, notices) ?? {}) as LlmMetricsOptions, outputs, notices);
  } catch {
    // Options nested deeper (log, buckets) with getters that throw: the defaults rather than an exception.
    processNotices.warn('options', 'createLlmMetrics(): the options could not be read; using the defaults');
    return new Recorder({}, outputs, notices);
  }
}

/** Records calls to LLM APIs (gen_ai.client.* metrics); see @inferwatch/client for the OpenAI and AI SDK wrappers. */
export function createClientMetrics(options: ClientMetricsOptions = {}): ClientMetrics {
  const notices = new Notices();
  const read = (readOptions(options, 'createClientMetrics()', CLIENT_OPTION_KEYS, notices) ?? {}) as ClientMetricsOptions;
  return new ClientRecorder(read, (recorder) => new ClientMetricProducer(recorder), notices);
}
