import { OTLPMetricExporter as OtlpJsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OtlpProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PeriodicExportingMetricReader, type MetricProducer } from '@opentelemetry/sdk-metrics';

export interface OtlpOptions {
  /** Full metrics URL, e.g. `http://collector:4318/v1/metrics`. Default: `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/metrics`. */
  url?: string;
  /** Default: `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`, `OTEL_EXPORTER_OTLP_PROTOCOL`, else `http/protobuf`. */
  protocol?: 'http/protobuf' | 'http/json';
  /** Export interval. Default: `OTEL_METRIC_EXPORT_INTERVAL`, else 60 000. */
  intervalMs?: number;
  /** Extra headers; `OTEL_EXPORTER_OTLP_HEADERS` is read too. */
  headers?: Record<string, string>;
}

function envNumber(name: string): number | undefined {
  const value = Number(process.env[name]);
  return process.env[name] !== undefined && Number.isFinite(value) && value > 0 ? value : undefined;
}

export function createOtlpReader(options: OtlpOptions, producers: MetricProducer[]): PeriodicExportingMetricReader {
  const protocol =
    options.protocol ?? process.env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL ?? process.env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
  const config = { url: options.url, headers: options.headers };
  const exporter = protocol === 'http/json' ? new OtlpJsonExporter(config) : new OtlpProtoExporter(config);
  const exportIntervalMillis = options.intervalMs ?? envNumber('OTEL_METRIC_EXPORT_INTERVAL') ?? 60_000;
  const exportTimeoutMillis = Math.min(envNumber('OTEL_METRIC_EXPORT_TIMEOUT') ?? 30_000, exportIntervalMillis);
  return new PeriodicExportingMetricReader({ exporter, exportIntervalMillis, exportTimeoutMillis, metricProducers: producers });
}
