export { createLlmMetrics } from './recorder.js';
export type { LlmMetrics, LlmMetricsOptions, StartRequestInfo } from './recorder.js';
export type { RequestHandle, EndOptions } from './lifecycle.js';
export type { EngineState, EngineStateCallback } from './engine-state.js';
export type { LogLineOptions } from './log-line.js';
export { startMetrics } from './start.js';
export type { StartMetricsOptions, RunningMetrics } from './start.js';
export type { PrometheusOptions, MetricsHandler } from './prometheus.js';
export type { OtlpOptions } from './otlp.js';
