import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { constants, gzip } from 'node:zlib';
import { diag } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import { MetricReader, type CollectionResult, type MetricProducer } from '@opentelemetry/sdk-metrics';
import { CONTENT_TYPES, negotiateFormat, writeRecorders, type ExpositionFormat, type ExpositionWriter } from './exposition.js';
import { viewOf, type RecorderSource } from './families.js';
import { ProtobufWriter } from './protobuf-writer.js';
import { TextWriter } from './text-writer.js';

export interface PrometheusOptions {
  /** Also serve the exposition on its own port (`OTEL_EXPORTER_PROMETHEUS_PORT` works too). Without one, mount `metricsHandler` on your server. */
  port?: number;
  /** Interface for that port (`OTEL_EXPORTER_PROMETHEUS_HOST`). Default: all. */
  host?: string;
  /** Path on that port. Default `/metrics`. */
  endpoint?: string;
}

export const PROMETHEUS_OPTION_KEYS = ['port', 'host', 'endpoint'] as const;

export type MetricsHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface PrometheusSetup {
  /** Collects what the recorders do not hold: instruments made on the MeterProvider and other producers. */
  reader: MetricReader;
  handler: MetricsHandler;
  /** Resolves once the dedicated port listens (at once when there is none); rejects if it cannot. */
  listening: Promise<void>;
}

const DEFAULT_PORT = 9464;
const gzipAsync = promisify(gzip);

/** Pull-only: collects on each scrape, and closes the dedicated port on shutdown. */
class ScrapeReader extends MetricReader {
  onClose: (() => Promise<void>) | undefined;
  /** Whether a MeterProvider holds this reader: one of the app's gets it only when the app builds it. */
  bound = false;
  override setMetricProducer(producer: Parameters<MetricReader['setMetricProducer']>[0]): void {
    super.setMetricProducer(producer);
    this.bound = true;
  }
  protected override async onShutdown(): Promise<void> {
    await this.onClose?.();
  }
  protected override async onForceFlush(): Promise<void> {}
}

/** Whether `Accept-Encoding` allows gzip (explicitly or through `*`) with a non-zero q. */
export function acceptsGzip(acceptEncoding: string | string[] | undefined): boolean {
  if (typeof acceptEncoding !== 'string') return false;
  for (const coding of acceptEncoding.split(',')) {
    const [name, ...params] = coding.split(';').map((s) => s.trim().toLowerCase());
    if (name !== 'gzip' && name !== 'x-gzip' && name !== '*') continue;
    const q = params.find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

/**
 * Who is scraping: a reader whose windowed metrics (the event loop's) run from its own previous scrape.
 * Two Prometheus servers of an HA pair come from different addresses; a tool beside one, with another agent.
 */
function scraperOf(req: IncomingMessage): string {
  return `prometheus ${req.socket?.remoteAddress ?? ''} ${String(req.headers['user-agent'] ?? '').slice(0, 128)}`;
}

/**
 * `resource` is the target_info until a MeterProvider holds the reader (then that provider's resource):
 * an app that builds its provider after startMetrics still has /metrics served in the meantime.
 * `perScraper` gives the producers whose windows are per reader, for the scraper at hand (collected at each scrape).
 */
export function createPrometheus(
  options: PrometheusOptions,
  recorders: readonly RecorderSource[],
  producers: MetricProducer[],
  resource: Resource,
  perScraper: (scraper: string) => MetricProducer[] = () => [],
): PrometheusSetup {
  const reader = new ScrapeReader({ metricProducers: producers });
  const collect = async (): Promise<CollectionResult> => {
    if (reader.bound) return reader.collect();
    const results = await Promise.all(producers.map((producer) => producer.collect()));
    return { resourceMetrics: { resource, scopeMetrics: results.flatMap((r) => r.resourceMetrics.scopeMetrics) }, errors: results.flatMap((r) => r.errors) };
  };
  // Per format, the last exposition's size: the next one's buffer is allocated once at about that size.
  const lastSize: Record<ExpositionFormat, number> = { prometheus: 0, openmetrics: 0, protobuf: 0 };
  const writerFor = (format: ExpositionFormat): ExpositionWriter => {
    const capacity = lastSize[format] + (lastSize[format] >> 3);
    return format === 'protobuf' ? new ProtobufWriter(capacity) : new TextWriter(format, capacity);
  };

  async function respond(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const format = negotiateFormat(req.headers.accept);
    const compress = acceptsGzip(req.headers['accept-encoding']);
    let body: Buffer;
    try {
      const [{ resourceMetrics, errors }, ...own] = await Promise.all([collect(), ...perScraper(scraperOf(req)).map((p) => p.collect())]);
      if (errors.length > 0) diag.error('inferwatch: metrics collection errors', ...errors);
      const writer = writerFor(format);
      writer.targetInfo(resourceMetrics.resource.attributes);
      writeRecorders(writer, recorders.map(viewOf));
      for (const scope of [...resourceMetrics.scopeMetrics, ...own.flatMap((r) => r.resourceMetrics.scopeMetrics)]) for (const metric of scope.metrics) writer.metricData(metric);
      body = writer.finish();
      lastSize[format] = body.length;
      // zlib's async API compresses on the libuv thread pool, off the host's event loop. The fastest
      // level: expositions are so repetitive that it still shrinks them ~25×, at half the time of the default.
      if (compress) body = await gzipAsync(body, { level: constants.Z_BEST_SPEED });
    } catch (error) {
      diag.error('inferwatch: /metrics failed', error);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`# failed to export metrics: ${String(error)}\n`);
      return;
    }
    const headers: Record<string, string | number> = { 'content-type': CONTENT_TYPES[format], 'content-length': body.length, vary: 'Accept, Accept-Encoding' };
    if (compress) headers['content-encoding'] = 'gzip';
    res.writeHead(200, headers).end(body);
  }

  const handler: MetricsHandler = (req, res) => {
    respond(req, res).catch((error) => diag.error('inferwatch: /metrics failed', error));
  };

  const envPort = Number(process.env.OTEL_EXPORTER_PROMETHEUS_PORT);
  const ownPort = options.port !== undefined || process.env.OTEL_EXPORTER_PROMETHEUS_PORT !== undefined;
  if (!ownPort) return { reader, handler, listening: Promise.resolve() };

  const endpoint = (options.endpoint || '/metrics').replace(/^([^/])/, '/$1');
  const server = createServer((req, res) => {
    if ((req.url ?? '').split('?')[0] === endpoint) return handler(req, res);
    res.writeHead(404).end();
  }).unref();
  const listening = new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: options.port || envPort || DEFAULT_PORT, host: options.host || process.env.OTEL_EXPORTER_PROMETHEUS_HOST || undefined }, resolve);
  });
  reader.onClose = () => new Promise((resolve) => server.close(() => resolve()));
  return { reader, handler, listening };
}
