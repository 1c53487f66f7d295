import { metrics, type Attributes, type TracerProvider } from '@opentelemetry/api';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, type MetricProducer, type MetricReader } from '@opentelemetry/sdk-metrics';
import { resourceKey } from './attribute-keys.js';
import { createDashboardHandler, type DashboardHandler, type DashboardOptions } from './dashboard.js';
import { loadGpu, type GpuOption, type LazyGpu } from './gpu.js';
import { Notices } from './misuse.js';
import { createOtlpReader, type OtlpOptions } from './otlp.js';
import { LlmMetricProducer } from './producer.js';
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
  /**
   * `false`: build no MeterProvider (and register none); hand `metricReaders` to yours instead,
   * `new NodeSDK({ metricReaders })` or `new MeterProvider({ readers: metricReaders })`, so your own
   * instruments are on `/metrics` and the OTLP export next to the recorders'. The metrics then carry
   * your provider's resource. Default: a MeterProvider of its own.
   */
  meterProvider?: false;
  /** Make the MeterProvider (and the TracerProvider, with the W3C propagator) the global ones. Default true. */
  registerGlobal?: boolean;
  /** Longest `shutdown()` waits for the final OTLP push and the GPU poller, in ms. Default 2000. */
  shutdownTimeoutMs?: number;
  /** Problems (a busy port, a failed export, a missing package) are printed once to stderr when no OTel `diag` logger is set; `false` keeps stderr quiet. Default true. */
  warnings?: boolean;
}

/** What `ready` resolves to: never a rejection, so an unawaited `ready` cannot take the host down. */
export type ReadyResult = { ok: true } | { ok: false; error: Error };

export interface RunningMetrics {
  /** The MeterProvider `startMetrics` built; undefined with `meterProvider: false`. */
  readonly meterProvider: MeterProvider | undefined;
  /**
   * With `meterProvider: false`, the Prometheus and OTLP readers (those that are on), to give your own provider
   * (`new NodeSDK({ metricReaders })`); empty otherwise, since startMetrics' own provider holds them.
   */
  readonly metricReaders: MetricReader[];
  /** The TracerProvider `startMetrics` created; undefined when tracing is off or another provider was registered. */
  readonly tracerProvider: TracerProvider | undefined;
  /** Serves the Prometheus exposition from your own HTTP server (`GET /metrics`). 404 when Prometheus is off. */
  readonly metricsHandler: MetricsHandler;
  /** Serves the live page (`GET /dashboard`) and its JSON (`GET /dashboard/snapshot`) from your own HTTP server. */
  readonly dashboardHandler: DashboardHandler;
  /** Resolves `{ ok: true }` once a dedicated Prometheus port listens (at once without one), or `{ ok: false, error }` when it cannot (also printed once). Never rejects. */
  readonly ready: Promise<ReadyResult>;
  /** Pushes pending OTLP data (metrics and spans) now, waiting at most `shutdownTimeoutMs`. Never rejects. */
  forceFlush(): Promise<void>;
  /**
   * Flushes, closes the Prometheus port, stops the recorders' log lines and the GPU poller, within `shutdownTimeoutMs`.
   * Never rejects. With `meterProvider: false` it stops the readers themselves; your provider's own shutdown afterwards finds them stopped.
   */
  shutdown(): Promise<void>;
}

const DEFAULT_SHUTDOWN_TIMEOUT_MS = 2000;

function exportersFromEnv(): Set<string> | undefined {
  const raw = process.env.OTEL_METRICS_EXPORTER;
  if (raw === undefined || raw.trim() === '') return undefined;
  return new Set(raw.split(',').map((s) => s.trim().toLowerCase()));
}

function otlpEndpointInEnv(): boolean {
  return Boolean(process.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

const hasProducer = (r: unknown): r is LlmMetrics => typeof (r as LlmMetrics | null)?.producer?.collect === 'function';
const isProducer = (p: unknown): p is MetricProducer => typeof (p as MetricProducer | null)?.collect === 'function';
const list = (value: unknown): unknown[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** Resolves after `ms` at most, never keeping the process alive for it. */
function bounded(work: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    work.then(
      () => (clearTimeout(timer), resolve()),
      () => (clearTimeout(timer), resolve()),
    );
  });
}

/**
 * The caller's resource attributes with keys every Prometheus writer can label with (see
 * resourceKey). A key that would become the same label as an earlier one, or as one of the SDK's
 * own resource attributes (`service_name` next to `service.name`), is left out: a label twice
 * makes the whole exposition invalid.
 */
function resourceAttributes(raw: unknown, defaults: Attributes): Attributes {
  const out: Attributes = {};
  if (typeof raw !== 'object' || raw === null) return out;
  const asLabel = (key: string) => key.replace(/\./g, '_');
  const taken = new Map(Object.keys(defaults).map((key) => [asLabel(key), key]));
  for (const [key, value] of Object.entries(raw)) {
    const name = resourceKey(key);
    const label = asLabel(name);
    if (name === '' || (taken.has(label) && taken.get(label) !== name) || Object.hasOwn(out, name)) continue;
    taken.set(label, name);
    out[name] = value as Attributes[string];
  }
  return out;
}

/**
 * A reader handed to the app's provider: whether that provider has taken it yet, and a shutdown that
 * runs once (it is stopped twice, by `shutdown()` and then by that provider, where sdk-metrics would log
 * an error for the second).
 */
function handedOut(reader: MetricReader): { bound: () => boolean } {
  let bound = false;
  const bind = reader.setMetricProducer.bind(reader);
  reader.setMetricProducer = (producer) => {
    bind(producer);
    bound = true;
  };
  const shutdown = reader.shutdown.bind(reader);
  let stopping: Promise<void> | undefined;
  reader.shutdown = (options) => (stopping ??= shutdown(options));
  return { bound: () => bound };
}

const notFound: MetricsHandler = (_req, res) => {
  try {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Prometheus export is off\n');
  } catch {
    // Not a node:http response; nothing to answer.
  }
};

/** Builds the MeterProvider and its readers for the recorders' data and returns the handles to serve and stop it. */
export function startMetrics(options: StartMetricsOptions = {}): RunningMetrics {
  // Read once, as plain values: options whose getters throw give the defaults.
  let opts: StartMetricsOptions;
  try {
    opts = typeof options === 'object' && options !== null ? { ...options } : {};
  } catch {
    opts = {};
  }
  const notices = new Notices(opts.warnings !== false);
  try {
    return start(opts, notices);
  } catch (error) {
    // Whatever start-up could not survive (a hostile option, an exporter that threw): metrics off, host running.
    const reason = error instanceof Error ? error.message : 'unknown error';
    notices.warn('start_failed', `startMetrics() failed (${reason.slice(0, 200)}); metrics are not exported`);
    return start({ prometheus: false, otlp: false, tracing: false, runtime: false, registerGlobal: false }, notices);
  }
}

const copy = <T>(value: T | false | undefined): T | false | undefined => (typeof value === 'object' && value !== null ? { ...value } : value);

function start(options: StartMetricsOptions, notices: Notices): RunningMetrics {
  // Everything the caller gave is read before anything starts, so a throwing getter leaves nothing running.
  const prometheusOptions = copy(options.prometheus);
  const otlpOptions = copy(options.otlp);
  const gpuOptions = options.gpu === true ? {} : copy(options.gpu || undefined);
  const defaults = defaultResource();
  const resource = defaults
    .merge(resourceFromAttributes({ ...resourceAttributes(options.resourceAttributes, defaults.attributes), ...(typeof options.serviceName === 'string' ? { 'service.name': options.serviceName } : {}) }))
    .merge(detectResources({ detectors: [envDetector] }));
  const recorders = list(options.llm).filter(hasProducer);
  const extra = list(options.metricProducers).filter(isProducer);
  if (recorders.length !== list(options.llm).length || extra.length !== list(options.metricProducers).length) {
    notices.warn('invalid_producer', 'startMetrics(): llm takes recorders from createLlmMetrics() and metricProducers takes MetricProducers; the others are left out');
  }
  const gpu: LazyGpu | undefined = gpuOptions ? loadGpu(gpuOptions, notices) : undefined;
  const runtime = options.runtime === false ? undefined : createRuntimeMetrics();
  const otherProducers = [...(gpu ? [gpu.producer] : []), ...(runtime ? [runtime.producer] : []), ...extra];
  const producers = [...recorders.map((r) => r.producer), ...otherProducers];
  const fromEnv = exportersFromEnv();

  const readers: MetricReader[] = [];
  let prometheusReader: MetricReader | undefined;
  let metricsHandler = notFound;
  let ready: Promise<ReadyResult> = Promise.resolve({ ok: true });
  const prometheusOn = prometheusOptions !== undefined ? prometheusOptions !== false : (fromEnv?.has('prometheus') ?? true);
  if (prometheusOn) {
    // Recorders are written straight from their storage; anything else goes through OTel collection.
    const sources = recorders.flatMap((r) => (r.producer instanceof LlmMetricProducer ? [r.producer.source] : []));
    const collected = recorders.flatMap((r) => (r.producer instanceof LlmMetricProducer ? [] : [r.producer]));
    const prometheus = createPrometheus(prometheusOptions || {}, sources, [...collected, ...otherProducers], resource);
    readers.push(prometheus.reader);
    prometheusReader = prometheus.reader;
    metricsHandler = prometheus.handler;
    // Handled here, so a busy or forbidden port is a result and a line on stderr, never an unhandled rejection.
    ready = prometheus.listening.then(
      (): ReadyResult => ({ ok: true }),
      (error: unknown): ReadyResult => {
        const err = error instanceof Error ? error : new Error(String(error));
        notices.warn('prometheus_port', `the Prometheus port could not be opened (${err.message}); /metrics is only served through metricsHandler`);
        return { ok: false, error: err };
      },
    );
  }
  const otlpOn = otlpOptions !== undefined ? otlpOptions !== false : (fromEnv?.has('otlp') ?? otlpEndpointInEnv());
  const otlp = otlpOn ? createOtlpReader(otlpOptions || {}, producers, notices) : undefined;
  if (otlp) readers.push(otlp);

  // sdk-metrics 2.x adds no reader to a built MeterProvider, so the app's own provider gets these readers
  // at its construction (as OTel's PrometheusExporter is handed to one) rather than this one taking theirs.
  if (options.meterProvider !== undefined && options.meterProvider !== false) {
    notices.warn(
      'invalid_meter_provider',
      'startMetrics(): meterProvider takes only false (build none); a provider of your own is given the readers instead: new MeterProvider({ readers: running.metricReaders }). startMetrics builds its own',
    );
  }
  const meterProvider = options.meterProvider === false ? undefined : new MeterProvider({ resource, readers });
  const handed = meterProvider ? [] : readers.map((reader) => ({ reader, ...handedOut(reader) }));
  const dashboardHandler = createDashboardHandler(producers, resource, options.dashboard);
  const registered = meterProvider !== undefined && options.registerGlobal !== false && metrics.setGlobalMeterProvider(meterProvider);
  if (meterProvider !== undefined && options.registerGlobal !== false && !registered) {
    // Another MeterProvider (a NodeSDK started first) keeps the global slot: instruments the app creates
    // through the OTel API land there and never reach these readers.
    notices.warn(
      'global_meter_provider',
      "startMetrics(): a global MeterProvider is already registered (an OpenTelemetry NodeSDK started first?), so the app's own instruments go there and are not on this /metrics or OTLP export. To export both, start startMetrics({ meterProvider: false, ... }) first and build your provider with its readers: new NodeSDK({ metricReaders: running.metricReaders }) or new MeterProvider({ readers: running.metricReaders }).",
    );
  }
  const tracing = options.tracing === false ? undefined : startTracing(copy(options.tracing) || undefined, resource, options.registerGlobal !== false);
  if (tracing) for (const recorder of recorders) adoptTracerProvider(recorder, tracing.tracerProvider);
  const timeoutMs =
    typeof options.shutdownTimeoutMs === 'number' && options.shutdownTimeoutMs > 0 ? options.shutdownTimeoutMs : DEFAULT_SHUTDOWN_TIMEOUT_MS;

  // Readers no provider took were never started: nothing to flush, and the OTLP one pushed nothing (said once).
  const heldReaders = () => {
    const unbound = handed.filter((h) => !h.bound());
    if (unbound.some((h) => h.reader === otlp)) {
      notices.warn('metric_readers_unbound', 'startMetrics({ meterProvider: false }): no MeterProvider holds its readers, so nothing is pushed over OTLP; give running.metricReaders to yours (new NodeSDK({ metricReaders: running.metricReaders }))');
    }
    return handed.filter((h) => h.bound()).map((h) => h.reader);
  };
  const flushMetrics = () => (meterProvider ? [meterProvider.forceFlush({ timeoutMillis: timeoutMs })] : heldReaders().map((reader) => reader.forceFlush({ timeoutMillis: timeoutMs })));
  // The Prometheus reader stops even when no provider took it: stopping it closes its port.
  const stopMetrics = () =>
    meterProvider
      ? [meterProvider.shutdown({ timeoutMillis: timeoutMs })]
      : [...new Set([...heldReaders(), ...(prometheusReader ? [prometheusReader] : [])])].map((reader) => reader.shutdown({ timeoutMillis: timeoutMs }));
  let stopped: Promise<void> | undefined;
  return {
    meterProvider,
    metricReaders: meterProvider ? [] : [...readers],
    tracerProvider: tracing?.tracerProvider,
    metricsHandler,
    dashboardHandler,
    ready,
    forceFlush: () => bounded(Promise.allSettled([...flushMetrics(), tracing?.forceFlush()]), timeoutMs),
    shutdown() {
      stopped ??= (async () => {
        for (const recorder of recorders) {
          try {
            recorder.shutdown();
          } catch {
            // A recorder that cannot stop its log line still lets the rest stop.
          }
        }
        runtime?.shutdown();
        // In parallel and bounded: a hung collector or a GPU poll cannot hold the host's own shutdown.
        await bounded(Promise.allSettled([gpu?.shutdown(), ...stopMetrics(), tracing?.shutdown()]), timeoutMs);
        if (registered) metrics.disable();
      })();
      return stopped;
    },
  };
}
