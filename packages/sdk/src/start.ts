import { diag, metrics, type Attributes, type TracerProvider } from '@opentelemetry/api';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, type MetricProducer, type MetricReader } from '@opentelemetry/sdk-metrics';
import { loadGpu, type GpuOption } from './gpu.js';
import { createDashboardHandler, type DashboardHandler, type DashboardOptions } from './dashboard.js';
import { createOtlpReader, type OtlpOptions } from './otlp.js';
import { createPrometheus, type MetricsHandler, type PrometheusOptions } from './prometheus.js';
import { adoptTracerProvider, type LlmMetrics } from './recorder.js';
import { createRuntimeMetrics } from './runtime-metrics.js';
import { startTracing, type TracingOptions } from './tracing.js';

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
  /** The live page served by `dashboardHandler` (e.g. `{ token }` to protect it as you protect `/metrics`). */
  dashboard?: DashboardOptions;
  /** Per-GPU metrics from nvidia-smi: `true` or the options of `@inferwatch/gpu` (which must be installed). Default off. */
  gpu?: GpuOption;
  /** Event-loop delay and utilization (`nodejs.eventloop.*`), the wait no request timer sees. Default on. */
  runtime?: boolean;
  /** Extra resource attributes. */
  resourceAttributes?: Attributes;
  /**
   * Request spans: a TracerProvider with a batch processor, created only when no global one is registered (your
   * NodeSDK wins). Default on when `OTEL_TRACES_EXPORTER` names `otlp` or `console` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set.
   */
  tracing?: TracingOptions | false;
  /** Make the MeterProvider (and the TracerProvider, with the W3C propagator) the global ones. Default true. */
  registerGlobal?: boolean;
}

export interface RunningMetrics {
  readonly meterProvider: MeterProvider;
  /** The TracerProvider `startMetrics` created; undefined when tracing is off or another provider was registered. */
  readonly tracerProvider: TracerProvider | undefined;
  /** Serves the Prometheus exposition from your own HTTP server (`GET /metrics`). 404 when Prometheus is off. */
  readonly metricsHandler: MetricsHandler;
  /** Serves the live page (`GET /dashboard`) and its JSON (`GET /dashboard/snapshot`) from your own HTTP server. */
  readonly dashboardHandler: DashboardHandler;
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
  const runtime = options.runtime === false ? undefined : createRuntimeMetrics();
  const producers = [...recorders.map((r) => r.producer), ...(gpu ? [gpu.producer] : []), ...(runtime ? [runtime.producer] : []), ...(options.metricProducers ?? [])];
  const fromEnv = exportersFromEnv();

  const readers: MetricReader[] = [];
  let metricsHandler: MetricsHandler = (_req, res) => {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Prometheus export is off\n');
  };
  let ready = Promise.resolve();
  const prometheusOn = options.prometheus !== undefined ? options.prometheus !== false : (fromEnv?.has('prometheus') ?? true);
  if (prometheusOn) {
    const prometheus = createPrometheus(options.prometheus || {}, producers);
    readers.push(prometheus.exporter);
    metricsHandler = (req, res) => prometheus.exporter.getMetricsRequestHandler(req, res);
    ready = prometheus.listening;
  }
  const otlpOn = options.otlp !== undefined ? options.otlp !== false : (fromEnv?.has('otlp') ?? otlpEndpointInEnv());
  if (otlpOn) readers.push(createOtlpReader(options.otlp || {}, producers));

  const resource = defaultResource()
    .merge(resourceFromAttributes({ ...options.resourceAttributes, ...(options.serviceName ? { 'service.name': options.serviceName } : {}) }))
    .merge(detectResources({ detectors: [envDetector] }));
  const meterProvider = new MeterProvider({ resource, readers });
  const dashboardHandler = createDashboardHandler(producers, resource, options.dashboard);
  const registered = options.registerGlobal !== false && metrics.setGlobalMeterProvider(meterProvider);
  const tracing = options.tracing === false ? undefined : startTracing(options.tracing, resource, options.registerGlobal !== false);
  if (tracing) for (const recorder of recorders) adoptTracerProvider(recorder, tracing.tracerProvider);

  return {
    meterProvider,
    tracerProvider: tracing?.tracerProvider,
    metricsHandler,
    dashboardHandler,
    ready,
    forceFlush: async () => {
      await Promise.all([meterProvider.forceFlush(), tracing?.forceFlush()]);
    },
    async shutdown() {
      for (const recorder of recorders) recorder.shutdown();
      runtime?.shutdown();
      try {
        await gpu?.shutdown();
        await meterProvider.shutdown();
        await tracing?.shutdown();
      } catch (error) {
        diag.error('inferwatch: metrics shutdown failed', error);
      }
      if (registered) metrics.disable();
    },
  };
}
