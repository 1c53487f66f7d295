/**
 * startMetrics: the recorders' readers and exporters (Prometheus pull, OTLP push, the live page), the
 * runtime and GPU producers, and request spans, started together and stopped together. Nothing it does
 * can throw into the host: a part that cannot start is off, said once, and reported in `ready`.
 */
import { diag, metrics, type Attributes, type MeterProvider as ApiMeterProvider, type TracerProvider } from '@opentelemetry/api';
import { MeterProvider, type CollectionResult, type MetricProducer, type MetricReader } from '@opentelemetry/sdk-metrics';
import { ClusterPrimary, isClusterPrimary, type ClusterOptions } from '../cluster/primary.js';
import { joinCluster } from '../cluster/worker.js';
import { createDashboardHandler, type DashboardHandler, type DashboardOptions } from '../dashboard/handler.js';
import { OTLP_OPTION_KEYS, createOtlpReader, type OtlpOptions } from '../export/otlp.js';
import {
  createScrapeReader,
  PROMETHEUS_OPTION_KEYS,
  renderExposition,
  servePrometheus,
  type ExpositionParts,
  type MetricsHandler,
  type PrometheusOptions,
  compressed,
  type Render,
} from '../export/prometheus.js';
import { snapshotOfParts } from '../export/snapshot.js';
import { errorText, Notices } from '../record/notices.js';
import { Recorder, type LlmMetrics } from '../record/recorder.js';
import { createRuntimeMetrics } from '../runtime/runtime-metrics.js';
import { GPU_OPTION_KEYS, loadGpu, type GpuOption, type GpuOptions } from './gpu.js';
import { readOptions } from './options.js';
import { buildResource } from './resource.js';
import { startTracing, TRACING_OPTION_KEYS, type TracingOptions, type TracingStart } from './tracing.js';

export interface StartMetricsOptions {
  /** `service.name`; `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` win over it, so operators can relabel. */
  serviceName?: string;
  /** Recorders to export. */
  llm?: LlmMetrics | readonly LlmMetrics[];
  /** Other producers to export alongside (e.g. a client recorder's, or your own). */
  metricProducers?: readonly MetricProducer[];
  /** Prometheus pull. Default on (handler only) unless `OTEL_METRICS_EXPORTER` leaves `prometheus` out. */
  prometheus?: PrometheusOptions | false;
  /**
   * OTLP push, through `@opentelemetry/exporter-metrics-otlp-proto` (or `-http` for http/json), which you install.
   * Default on when `OTEL_METRICS_EXPORTER` names `otlp` or an `OTEL_EXPORTER_OTLP_*ENDPOINT` is set.
   */
  otlp?: OtlpOptions | false;
  /** The live page served by `dashboardHandler` (e.g. `{ token }` to protect it as you protect `/metrics`). */
  dashboard?: DashboardOptions;
  /** Per-GPU metrics from nvidia-smi: `true` or the options of `@inferwatch/gpu` (which you install). Default off. */
  gpu?: GpuOption;
  /** Event-loop delay and utilization (`nodejs.eventloop.*`), the wait no request timer sees. Default on. */
  runtime?: boolean;
  /** Extra resource attributes. */
  resourceAttributes?: Attributes;
  /**
   * Request spans: a TracerProvider with a batch processor (`@opentelemetry/sdk-trace-base` and, for OTLP,
   * `@opentelemetry/exporter-trace-otlp-proto`, which you install), made only when the app registered none (your NodeSDK
   * wins). Default on when `OTEL_TRACES_EXPORTER` names `otlp` or `console` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set.
   */
  tracing?: TracingOptions | false;
  /**
   * `'global'` (default): build a MeterProvider and register it, with the TracerProvider `tracing` makes and the W3C
   * propagator, as the process's global ones, so your own OTel instruments are exported too.
   * `'private'`: build them but register nothing (several in one process, or beside an app's own global ones).
   * `false`: build no MeterProvider; give `metricReaders` to yours (`new NodeSDK({ metricReaders })`), whose resource the metrics then carry.
   */
  meterProvider?: 'global' | 'private' | false;
  /** Longest `shutdown()` waits for the final OTLP push and the GPU poller, in ms. Default 2000. */
  shutdownTimeoutMs?: number;
  /**
   * node:cluster: called in the primary, it assembles every worker's recorders; called in a worker, it sends its
   * state there, and any worker's `metricsHandler` (or a metrics port the workers share) answers for the whole group.
   * `{ perWorker: true }` keeps each worker's series apart (labelled `service_instance_id`); `false` leaves each process alone.
   */
  cluster?: ClusterOptions | false;
}

const START_OPTION_KEYS = [
  'serviceName',
  'llm',
  'metricProducers',
  'prometheus',
  'otlp',
  'dashboard',
  'gpu',
  'runtime',
  'resourceAttributes',
  'tracing',
  'meterProvider',
  'shutdownTimeoutMs',
  'cluster',
] as const satisfies ReadonlyArray<keyof StartMetricsOptions>;

/** One exporter's state once start-up settled: serving or pushing (`on`), not asked for (`off`), or unable to (`failed`, with why). */
export interface ExporterStatus {
  readonly state: 'on' | 'off' | 'failed';
  readonly detail?: string;
  /** The failure itself, when it was an error (a busy port's `EADDRINUSE`). */
  readonly error?: Error;
}

/** What `ready` resolves to: never a rejection, so an unawaited `ready` cannot take the host down. */
export interface ReadyResult {
  /** False when any exporter that was asked for failed. */
  readonly ok: boolean;
  /** The first failure, when there was one. */
  readonly error?: Error;
  /** The Prometheus exposition: `on` once its port listens (or at once, handler only). */
  readonly prometheus: ExporterStatus;
  readonly otlp: ExporterStatus;
  readonly tracing: ExporterStatus;
  readonly gpu: ExporterStatus;
}

export interface RunningMetrics {
  /** The MeterProvider `startMetrics` built; undefined with `meterProvider: false`. */
  readonly meterProvider: ApiMeterProvider | undefined;
  /**
   * With `meterProvider: false`, the Prometheus and OTLP readers (those that are on), to give your own provider
   * (`new NodeSDK({ metricReaders })`); empty otherwise, since startMetrics' own provider holds them.
   */
  readonly metricReaders: MetricReader[];
  /** The TracerProvider `startMetrics` created; undefined when tracing is off or the app registered its own. */
  readonly tracerProvider: TracerProvider | undefined;
  /** Serves the Prometheus exposition from your own HTTP server (`GET /metrics`). 404 when Prometheus is off. */
  readonly metricsHandler: MetricsHandler;
  /** Serves the live page (`GET /dashboard`) and its JSON (`GET /dashboard/snapshot`) from your own HTTP server. */
  readonly dashboardHandler: DashboardHandler;
  /** Each exporter's state once start-up settled (the Prometheus port listening or not). Never rejects. */
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
const OFF: ExporterStatus = { state: 'off' };
const ON: ExporterStatus = { state: 'on' };

function statusOf(start: TracingStart): ExporterStatus {
  if ('tracing' in start) return ON;
  return 'problem' in start ? { state: 'failed', detail: start.problem } : { state: 'off', detail: start.off };
}

/** MeterProviders an earlier startMetrics registered: a later one's notice names it rather than guessing at a NodeSDK. */
const ownProviders = new WeakSet<object>();

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

/** Builds the readers and exporters for the recorders' data and returns the handles to serve and stop them. */
export function startMetrics(options: StartMetricsOptions = {}): RunningMetrics {
  const notices = new Notices();
  try {
    return start(options, notices);
  } catch (error) {
    // Whatever start-up could not survive (a hostile option, an exporter that threw): metrics off, host running.
    notices.warn('start_failed', `startMetrics() failed (${errorText(error)}); metrics are not exported`);
    return start({ prometheus: false, otlp: false, tracing: false, runtime: false, meterProvider: 'private' }, notices);
  }
}

/** A nested option: `false`, or its object read with its keys checked; anything else means its defaults. */
function nested<K extends string>(value: unknown, where: string, known: readonly K[], notices: Notices): Partial<Record<K, unknown>> | false | undefined {
  if (value === false) return false;
  return readOptions(value, where, known, notices);
}

function start(given: StartMetricsOptions, notices: Notices): RunningMetrics {
  // Everything the caller gave is read before anything starts, so a throwing getter leaves nothing running.
  const options = (readOptions(given, 'startMetrics()', START_OPTION_KEYS, notices) ?? {}) as StartMetricsOptions;
  const prometheusOptions = nested(options.prometheus, 'startMetrics({ prometheus })', PROMETHEUS_OPTION_KEYS, notices) as PrometheusOptions | false | undefined;
  const otlpOptions = nested(options.otlp, 'startMetrics({ otlp })', OTLP_OPTION_KEYS, notices) as OtlpOptions | false | undefined;
  const tracingOptions = nested(options.tracing, 'startMetrics({ tracing })', TRACING_OPTION_KEYS, notices) as TracingOptions | false | undefined;
  const gpuOptions = options.gpu === true ? {} : options.gpu ? readOptions(options.gpu, 'startMetrics({ gpu })', GPU_OPTION_KEYS, notices) : undefined;
  const dashboardOptions = readOptions(options.dashboard, 'startMetrics({ dashboard })', ['token', 'slo'], notices) as DashboardOptions | undefined;
  const mode = options.meterProvider === undefined ? 'global' : options.meterProvider;
  if (mode !== 'global' && mode !== 'private' && mode !== false) {
    notices.warn('invalid_meter_provider', "startMetrics(): meterProvider takes 'global', 'private' or false; using 'global'");
  }
  const register = mode !== 'private';
  const resource = buildResource(options.serviceName, options.resourceAttributes);
  const recorders = list(options.llm).filter(hasProducer);
  const extra = list(options.metricProducers).filter(isProducer);
  if (recorders.length !== list(options.llm).length || extra.length !== list(options.metricProducers).length) {
    notices.warn('invalid_producer', 'startMetrics(): llm takes recorders from createLlmMetrics() and metricProducers takes MetricProducers; the others are left out');
  }
  const gpu = gpuOptions ? loadGpu(gpuOptions as GpuOptions, notices) : undefined;
  const runtime = options.runtime === false ? undefined : createRuntimeMetrics();
  // The runtime metrics' windows are per reader: each reader gets a producer of its own.
  const otherProducers = [...(gpu ? [gpu.producer] : []), ...extra];
  const runtimeFor = (reader: string) => (runtime ? [runtime.producerFor(reader)] : []);
  const producersFor = (reader: string) => [...recorders.map((r) => r.producer), ...otherProducers, ...runtimeFor(reader)];
  const fromEnv = exportersFromEnv();

  // What this process exports, for one reader: its recorders (written straight from their storage) and
  // OTel metric data (its MeterProvider's instruments through the scrape reader, other producers, its runtime).
  const sources = recorders.filter((r): r is Recorder => r instanceof Recorder);
  const collected = [...recorders.filter((r) => !(r instanceof Recorder)).map((r) => r.producer), ...otherProducers];
  const readers: MetricReader[] = [];
  const prometheusOn = prometheusOptions !== undefined ? prometheusOptions !== false : (fromEnv?.has('prometheus') ?? true);
  const scrape = prometheusOn ? createScrapeReader(collected, resource) : undefined;
  if (scrape) readers.push(scrape.reader);
  const collectAll = async (): Promise<CollectionResult> => {
    const results = await Promise.all(collected.map((producer) => producer.collect()));
    return { resourceMetrics: { resource, scopeMetrics: results.flatMap((r) => r.resourceMetrics.scopeMetrics) }, errors: results.flatMap((r) => r.errors) };
  };
  const localParts = async (scraper: string): Promise<ExpositionParts> => {
    const [main, ...runtimeResults] = await Promise.all([scrape ? scrape.collect() : collectAll(), ...runtimeFor(scraper).map((p) => p.collect())]);
    if (main.errors.length > 0) diag.error('inferwatch: metrics collection errors', ...main.errors);
    const metrics = [main, ...runtimeResults].flatMap((r) => r.resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics));
    return { resource: main.resourceMetrics.resource.attributes, recorders: sources, metrics };
  };

  // Several processes behind one port (node:cluster): the primary assembles the group; any worker answers with it.
  const clusterOptions = options.cluster === false ? undefined : ((readOptions(options.cluster, 'startMetrics({ cluster })', ['perWorker'], notices) ?? {}) as ClusterOptions);
  const instance = String(resource.attributes['service.instance.id']);
  const primary = clusterOptions !== undefined && isClusterPrimary() ? new ClusterPrimary(instance, clusterOptions, localParts) : undefined;
  const link = clusterOptions !== undefined && !isClusterPrimary() ? joinCluster(sources, resource.attributes, instance, async (scraper) => [...(await localParts(scraper)).metrics], notices) : undefined;
  const partsFor = (scraper: string) => (primary ? primary.parts(scraper, localParts(scraper)) : localParts(scraper));
  const lastSize: Record<string, number> = {};
  const render: Render = async (format, scraper, compress) => {
    if (link !== undefined && (await link.joined)) return link.render(format, scraper, compress);
    const body = renderExposition(format, await partsFor(scraper), (lastSize[format] ?? 0) * 1.125);
    lastSize[format] = body.length;
    return compressed(body, compress);
  };
  const snapshotJson = async () => (link !== undefined && (await link.joined) ? link.snapshot('dashboard') : snapshotOfParts(await partsFor('dashboard')));

  let metricsHandler = notFound;
  let closePort = async () => {};
  let prometheusStatus: Promise<ExporterStatus> = Promise.resolve(OFF);
  if (prometheusOn) {
    const served = servePrometheus(prometheusOptions || {}, render);
    metricsHandler = served.handler;
    closePort = served.close;
    scrape!.onClose(served.close);
    // Handled here, so a busy or forbidden port is a result and a line on stderr, never an unhandled rejection.
    prometheusStatus = served.listening.then(
      (): ExporterStatus => ON,
      (error: unknown): ExporterStatus => {
        const err = error instanceof Error ? error : new Error(String(error));
        const detail = `the Prometheus port could not be opened (${errorText(err)}); /metrics is only served through metricsHandler`;
        notices.warn('prometheus_port', detail);
        return { state: 'failed', detail, error: err };
      },
    );
  }
  const prometheusReader = scrape?.reader;
  const otlpOn = otlpOptions !== undefined ? otlpOptions !== false : (fromEnv?.has('otlp') ?? otlpEndpointInEnv());
  const otlp = otlpOn ? createOtlpReader(otlpOptions || {}, producersFor('otlp'), notices) : undefined;
  const otlpReader = otlp !== undefined && 'reader' in otlp ? otlp.reader : undefined;
  if (otlpReader) readers.push(otlpReader);
  const otlpStatus: ExporterStatus = otlp === undefined ? OFF : otlpReader ? ON : { state: 'failed', detail: (otlp as { problem: string }).problem };

  // sdk-metrics 2.x adds no reader to a built MeterProvider, so the app's own provider gets these readers
  // at its construction (as OTel's PrometheusExporter is handed to one) rather than this one taking theirs.
  const meterProvider = mode === false ? undefined : new MeterProvider({ resource, readers });
  const handed = meterProvider ? [] : readers.map((reader) => ({ reader, ...handedOut(reader) }));
  const dashboardHandler = createDashboardHandler(snapshotJson, dashboardOptions ?? {}, notices);
  const registered = meterProvider !== undefined && register && metrics.setGlobalMeterProvider(meterProvider);
  if (registered) ownProviders.add(meterProvider);
  else if (meterProvider !== undefined && register) {
    // Another MeterProvider keeps the global slot: instruments the app creates through the OTel API land there
    // and never reach these readers.
    const holder = ownProviders.has(metrics.getMeterProvider()) ? 'by an earlier startMetrics() in this process' : '(an OpenTelemetry NodeSDK started first?)';
    notices.warn(
      'global_meter_provider',
      `startMetrics(): a global MeterProvider is already registered ${holder}, so the app's own OTel instruments are not on this /metrics or OTLP export. For a second startMetrics in one process, pass meterProvider: 'private'; to export an app's own NodeSDK instruments, start startMetrics({ meterProvider: false }) first and build that provider with running.metricReaders.`,
    );
  }
  const tracingStart: TracingStart = tracingOptions === false ? { off: 'tracing: false' } : startTracing(tracingOptions || undefined, resource, register, notices);
  const tracing = 'tracing' in tracingStart ? tracingStart.tracing : undefined;
  if (tracing) for (const recorder of recorders) if (recorder instanceof Recorder) recorder.spans.adopt(tracing.tracerProvider);
  const tracingStatus = statusOf(tracingStart);
  const gpuStatus: ExporterStatus = gpuOptions === undefined ? OFF : gpu ? ON : { state: 'failed', detail: '@inferwatch/gpu is not installed (npm install @inferwatch/gpu)' };
  const timeoutMs = typeof options.shutdownTimeoutMs === 'number' && options.shutdownTimeoutMs > 0 ? options.shutdownTimeoutMs : DEFAULT_SHUTDOWN_TIMEOUT_MS;

  const ready = prometheusStatus.then((prometheus): ReadyResult => {
    const statuses = { prometheus, otlp: otlpStatus, tracing: tracingStatus, gpu: gpuStatus };
    const failed = Object.values(statuses).find((s) => s.state === 'failed');
    return failed === undefined ? { ok: true, ...statuses } : { ok: false, error: failed.error ?? new Error(failed.detail), ...statuses };
  });

  // Readers no provider took were never started: nothing to flush, and the OTLP one pushed nothing (said once).
  const heldReaders = () => {
    const unbound = handed.filter((h) => !h.bound());
    if (unbound.some((h) => h.reader === otlpReader)) {
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
        link?.stop();
        primary?.stop();
        // In parallel and bounded: a hung collector or a GPU poll cannot hold the host's own shutdown.
        await bounded(Promise.allSettled([gpu?.shutdown(), ...stopMetrics(), closePort(), tracing?.shutdown()]), timeoutMs);
        if (registered) metrics.disable();
      })();
      return stopped;
    },
  };
}
