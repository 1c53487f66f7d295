// The public API of @inferwatch/sdk. Sibling packages reach a few internals through '@inferwatch/sdk/internal'.
export { createLlmMetrics, createClientMetrics } from './start/llm-metrics.js';
export { startMetrics } from './start/start-metrics.js';
export { createRuntimeMetrics } from './runtime/runtime-metrics.js';
export { trackStream } from './streams/track-stream.js';
export { extractTraceContext, injectTraceContext } from './trace/propagation.js';

export type { LlmMetrics, LlmMetricsOptions, LogLineOptions, StartRequestInfo } from './record/recorder.js';
export type { RequestHandle, EndOptions, OutcomeOptions } from './record/lifecycle.js';
export type { EngineState, EngineStateCallback } from './record/engine-state.js';
export type { BucketOptions, HistogramMode, HistogramModes, NativeHistogramOptions } from './record/series.js';
export type { RequestAttributeOptions, RequestAttributeDeclarations, RequestAttributeValues } from './record/request-attributes.js';
export type { ClientMetrics, ClientMetricsOptions, ClientOperation, ClientUsage, StartOperationInfo } from './record/client.js';
export type { HistogramName } from './record/catalog.js';
export type { Exemplar } from './aggregator/histogram.js';
export type { StartMetricsOptions, RunningMetrics, ReadyResult, ExporterStatus } from './start/start-metrics.js';
export type { TracingOptions } from './start/tracing.js';
export type { GpuOption, GpuOptions } from './start/gpu.js';
export type { PrometheusOptions, MetricsHandler } from './export/prometheus.js';
export type { OtlpOptions } from './export/otlp.js';
export type { Snapshot, SnapshotMetric, SnapshotPoint } from './export/snapshot-types.js';
export type { DashboardOptions, DashboardHandler } from './dashboard/handler.js';
export type { SloOptions } from './dashboard/slo.js';
export type { RuntimeMetrics, RuntimeMetricsOptions } from './runtime/runtime-metrics.js';
export type { TrackOptions } from './streams/track-stream.js';
export type { HeaderCarrier } from './trace/propagation.js';
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
} from './record/catalog.js';
