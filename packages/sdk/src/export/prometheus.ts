import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { constants, gzip } from 'node:zlib';
import { diag, type Attributes } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import { MetricReader, type CollectionResult, type MetricData, type MetricProducer } from '@opentelemetry/sdk-metrics';
import { errorText } from '../record/notices.js';
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

const DEFAULT_PORT = 9464;
const gzipAsync = promisify(gzip);

/** What one exposition holds: the resource, the recorders written from their storage, and OTel metric data. */
export interface ExpositionParts {
  readonly resource: Attributes;
  readonly recorders: readonly RecorderSource[];
  readonly metrics: readonly MetricData[];
}

/** The exposition of `parts` in `format`; `capacity` is a guess at its size (the last one's), to write into one buffer. */
export function renderExposition(format: ExpositionFormat, parts: ExpositionParts, capacity = 0): Buffer {
  const writer: ExpositionWriter = format === 'protobuf' ? new ProtobufWriter(capacity) : new TextWriter(format, capacity);
  writer.targetInfo(parts.resource);
  writeRecorders(writer, parts.recorders.map(viewOf));
  for (const metric of parts.metrics) writer.metricData(metric);
  return writer.finish();
}

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

/**
 * The reader a MeterProvider holds for the Prometheus exposition, and what it collects: the provider's own
 * instruments and `producers`. Until a provider holds it (an app's, built after startMetrics), `producers` are
 * collected directly under `resource`, so /metrics is served in the meantime.
 */
export function createScrapeReader(producers: MetricProducer[], resource: Resource): { reader: MetricReader; collect: () => Promise<CollectionResult>; onClose: (close: () => Promise<void>) => void } {
  const reader = new ScrapeReader({ metricProducers: producers });
  const collect = async (): Promise<CollectionResult> => {
    if (reader.bound) return reader.collect();
    const results = await Promise.all(producers.map((producer) => producer.collect()));
    return { resourceMetrics: { resource, scopeMetrics: results.flatMap((r) => r.resourceMetrics.scopeMetrics) }, errors: results.flatMap((r) => r.errors) };
  };
  return { reader, collect, onClose: (close) => (reader.onClose = close) };
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
 * The exposition in `format` for `scraper`, gzipped when `compress`: this process's, or (in a cluster worker)
 * its group's, which the primary compresses before it crosses the IPC channel.
 */
export type Render = (format: ExpositionFormat, scraper: string, compress: boolean) => Promise<Buffer>;

/**
 * `body` gzipped when `compress`. zlib's async API compresses on the libuv thread pool, off the host's event
 * loop; the fastest level, since expositions are so repetitive that it still shrinks them ~25×, at half the
 * time of the default.
 */
export const compressed = (body: Buffer, compress: boolean): Promise<Buffer> => (compress ? gzipAsync(body, { level: constants.Z_BEST_SPEED }) : Promise.resolve(body));

/**
 * The HTTP side of the exposition: the handler (format negotiated from `Accept`, gzip from `Accept-Encoding`)
 * and, when asked for, a port of its own. `listening` resolves once that port listens (at once without one)
 * and rejects if it cannot; `close` closes it.
 */
export function servePrometheus(options: PrometheusOptions, render: Render): { handler: MetricsHandler; listening: Promise<void>; close: () => Promise<void> } {
  async function respond(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const format = negotiateFormat(req.headers.accept);
    const compress = acceptsGzip(req.headers['accept-encoding']);
    let body: Buffer;
    try {
      body = await render(format, scraperOf(req), compress);
    } catch (error) {
      diag.error('inferwatch: /metrics failed', error);
      // 503 when the exposition is someone else's to give and they did not (a cluster's primary); else 500.
      const status = (error as { status?: unknown } | null)?.status === 503 ? 503 : 500;
      if (!res.headersSent) res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`# failed to export metrics: ${errorText(error)}\n`);
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
  if (!ownPort) return { handler, listening: Promise.resolve(), close: async () => {} };

  const endpoint = (options.endpoint || '/metrics').replace(/^([^/])/, '/$1');
  const server = createServer((req, res) => {
    if ((req.url ?? '').split('?')[0] === endpoint) return handler(req, res);
    res.writeHead(404).end();
  }).unref();
  const listening = new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: options.port || envPort || DEFAULT_PORT, host: options.host || process.env.OTEL_EXPORTER_PROMETHEUS_HOST || undefined }, resolve);
  });
  return { handler, listening, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
