export { createLlmMetrics } from './recorder.js';
export type { LlmMetrics, LlmMetricsOptions, StartRequestInfo } from './recorder.js';
export { extractTraceContext, injectTraceContext } from './propagation.js';
export type { HeaderCarrier } from './propagation.js';
export type { TracingOptions } from './tracing.js';
export type { Exemplar } from './histogram.js';
export type { RequestHandle, EndOptions, OutcomeOptions } from './lifecycle.js';
export type { EngineState, EngineStateCallback } from './engine-state.js';
export type { LogLineOptions } from './log-line.js';
export { startMetrics } from './start.js';
export type { StartMetricsOptions, RunningMetrics, ReadyResult } from './start.js';
export type { PrometheusOptions, MetricsHandler } from './prometheus.js';
export type { OtlpOptions } from './otlp.js';
export type { DashboardOptions, DashboardHandler } from './dashboard.js';
export type { Snapshot, SnapshotMetric, SnapshotPoint } from './snapshot.js';
export type { GpuOption, GpuOptions } from './gpu.js';
export { createRuntimeMetrics } from './runtime-metrics.js';
export type { RuntimeMetrics, RuntimeMetricsOptions } from './runtime-metrics.js';
export { trackStream } from './streams.js';
export type { TrackOptions } from './streams.js';
export { tapResponse, responseFormat } from './sse-tap.js';
export type { ResponseTap, TapOptions } from './sse-tap.js';
export { createClientMetrics } from './client.js';
export type { ClientMetrics, ClientMetricsOptions, ClientOperation, ClientUsage, StartOperationInfo } from './client.js';
export type { BucketOptions } from './series.js';
export type { RequestAttributeOptions, RequestAttributeDeclarations, RequestAttributeValues } from './request-attributes.js';
export type { HistogramName } from './catalog.js';
export {
  METRIC_GEN_AI_SERVER_REQUEST_DURATION,
  METRIC_GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
  METRIC_GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN,
  METRIC_INFERWATCH_REQUEST_INTER_TOKEN_LATENCY,
  METRIC_INFERWATCH_REQUEST_QUEUE_DURATION,
  METRIC_INFERWATCH_REQUEST_INFERENCE_DURATION,
  METRIC_INFERWATCH_REQUEST_PREFILL_DURATION,
  METRIC_INFERWATCH_REQUEST_DECODE_DURATION,
  METRIC_INFERWATCH_REQUEST_TOKEN_USAGE,
  METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
  METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
  METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
  METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
  METRIC_INFERWATCH_TOKENS,
  METRIC_INFERWATCH_REQUESTS_FINISHED,
  METRIC_INFERWATCH_REQUEST_PREEMPTIONS,
  METRIC_INFERWATCH_SDK_MISUSE,
  METRIC_INFERWATCH_SCHEDULER_RUNNING,
  METRIC_INFERWATCH_SCHEDULER_WAITING,
  METRIC_INFERWATCH_SCHEDULER_SWAPPED,
  METRIC_INFERWATCH_KV_CACHE_GPU_USAGE,
  METRIC_INFERWATCH_KV_CACHE_CPU_USAGE,
} from './catalog.js';
