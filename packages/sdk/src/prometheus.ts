import type { IncomingMessage, ServerResponse } from 'node:http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { MetricProducer } from '@opentelemetry/sdk-metrics';

export interface PrometheusOptions {
  /** Also serve the exposition on its own port (`OTEL_EXPORTER_PROMETHEUS_PORT` works too). Without one, mount `metricsHandler` on your server. */
  port?: number;
  /** Interface for that port (`OTEL_EXPORTER_PROMETHEUS_HOST`). Default: all. */
  host?: string;
  /** Path on that port. Default `/metrics`. */
  endpoint?: string;
}

export type MetricsHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface PrometheusSetup {
  exporter: PrometheusExporter;
  /** Resolves once the dedicated port listens (at once when there is none); rejects if it cannot. */
  listening: Promise<void>;
}

export function createPrometheus(options: PrometheusOptions, producers: MetricProducer[]): PrometheusSetup {
  const ownPort = options.port !== undefined || process.env.OTEL_EXPORTER_PROMETHEUS_PORT !== undefined;
  const exporter = new PrometheusExporter({
    port: options.port,
    host: options.host,
    endpoint: options.endpoint,
    preventServerStart: true,
    // One scope, so the otel_scope_* labels would only add bytes to every line.
    withoutScopeInfo: true,
    metricProducers: producers,
  });
  return { exporter, listening: ownPort ? exporter.startServer() : Promise.resolve() };
}
