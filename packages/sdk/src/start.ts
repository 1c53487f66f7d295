import { diag, metrics, type Attributes } from '@opentelemetry/api';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, type MetricProducer, type MetricReader } from '@opentelemetry/sdk-metrics';
import { loadGpu, type GpuOption } from './gpu.js';
import { createOtlpReader, type OtlpOptions } from './otlp.js';
import { LlmMetricProducer } from './producer.js';
import { createPrometheus, type MetricsHandler, type PrometheusOptions } from './prometheus.js';
import type { LlmMetrics } from './recorder.js';

export interface StartMetricsOptions {
  /** `service.name`; `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` win over it, so operators can relabel. */
  serviceName?: string;
  /** Recorders to export. */
  llm?: LlmMetrics | readonly LlmMetrics[];
  /** Other producers to export alongside (e.g. the GPU collector). */
  metricProducers?: readonly MetricProducer[];
  /** Prometheus pull. Default on (handler only) unless `OTEL_METRICS_EXPORTER` leaves `prometheus` out. */
  prometheus?: PrometheusOptions | false;
  /** OTLP push. Default on when `OTEL_METRICS_EXPORTER` names `otlp` or an `OTEL_EXPORTER_OTLP_*ENDPOINT` is set. */
  otlp?: OtlpOptions | false;
  /** Per-GPU metrics from nvidia-smi: `true` or the options of `@inferwatch/gpu` (which must be installed). Default off. */
  gpu?: GpuOption;
  /** Extra resource attributes. */
  resourceAttributes?: Attributes;
  /** Make the MeterProvider the global one, so your own `metrics.getMeter()` instruments export too. Default true. */
  registerGlobal?: boolean;
}

export interface RunningMetrics {
  readonly meterProvider: MeterProvider;
  /** Serves the Prometheus exposition from your own HTTP server (`GET /metrics`). 404 when Prometheus is off. */
  readonly metricsHandler: MetricsHandler;
  /** Resolves once a dedicated Prometheus port listens. */
  readonly ready: Promise<void>;
  /** Pushes pending OTLP data now. */
  forceFlush(): Promise<void>;
  /** Flushes, closes the Prometheus port, stops the recorders' log lines and the GPU poller. Never rejects. */
  shutdown(): Promise<void>;
}

function exportersFromEnv(): Set<string> | undefined {
  const raw = process.env.OTEL_METRICS_EXPORTER;
  if (raw === undefined || raw.trim() === '') return undefined;
  return new Set(raw.split(',').map((s) => s.trim().toLowerCase()));
}

function otlpEndpointInEnv(): boolean {
  return Boolean(process.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

/** Builds the MeterProvider and its readers for the recorders' data and returns the handles to serve and stop it. */
export function startMetrics(options: StartMetricsOptions = {}): RunningMetrics {
  const recorders = options.llm === undefined ? [] : Array.isArray(options.llm) ? options.llm : [options.llm as LlmMetrics];
  const gpu = options.gpu ? loadGpu(options.gpu === true ? {} : options.gpu) : undefined;
  const otherProducers = [...(gpu ? [gpu.producer] : []), ...(options.metricProducers ?? [])];
  const producers = [...recorders.map((r) => r.producer), ...otherProducers];
  const fromEnv = exportersFromEnv();

  const readers: MetricReader[] = [];
  let metricsHandler: MetricsHandler = (_req, res) => {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Prometheus export is off\n');
  };
  let ready = Promise.resolve();
  const prometheusOn = options.prometheus !== undefined ? options.prometheus !== false : (fromEnv?.has('prometheus') ?? true);
  if (prometheusOn) {
    // Recorders are written straight from their storage; anything else goes through OTel collection.
    const sources = recorders.flatMap((r) => (r.producer instanceof LlmMetricProducer ? [r.producer.source] : []));
    const collected = recorders.flatMap((r) => (r.producer instanceof LlmMetricProducer ? [] : [r.producer]));
    const prometheus = createPrometheus(options.prometheus || {}, sources, [...collected, ...otherProducers]);
    readers.push(prometheus.reader);
    metricsHandler = prometheus.handler;
    ready = prometheus.listening;
  }
  const otlpOn = options.otlp !== undefined ? options.otlp !== false : (fromEnv?.has('otlp') ?? otlpEndpointInEnv());
  if (otlpOn) readers.push(createOtlpReader(options.otlp || {}, producers));

  const resource = defaultResource()
    .merge(resourceFromAttributes({ ...options.resourceAttributes, ...(options.serviceName ? { 'service.name': options.serviceName } : {}) }))
    .merge(detectResources({ detectors: [envDetector] }));
  const meterProvider = new MeterProvider({ resource, readers });
  const registered = options.registerGlobal !== false && metrics.setGlobalMeterProvider(meterProvider);

  return {
    meterProvider,
    metricsHandler,
    ready,
    forceFlush: () => meterProvider.forceFlush(),
    async shutdown() {
      for (const recorder of recorders) recorder.shutdown();
      try {
        await gpu?.shutdown();
        await meterProvider.shutdown();
      } catch (error) {
        diag.error('inferwatch: metrics shutdown failed', error);
      }
      if (registered) metrics.disable();
    },
  };
}
