import { ExportResultCode } from '@opentelemetry/core';
import { OTLPMetricExporter as OtlpJsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OtlpProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PeriodicExportingMetricReader, type MetricProducer, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { Notices } from './misuse.js';

export interface OtlpOptions {
  /** Full metrics URL, e.g. `http://collector:4318/v1/metrics`. Default: `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/metrics`. */
  url?: string;
  /**
   * Default: `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`, `OTEL_EXPORTER_OTLP_PROTOCOL`, else `http/protobuf`.
   * `grpc` is refused at start-up (reported once; OTLP stays off) rather than sent as something else.
   */
  protocol?: 'http/protobuf' | 'http/json';
  /** Export interval. Default: `OTEL_METRIC_EXPORT_INTERVAL`, else 60 000. */
  intervalMs?: number;
  /** Extra headers; `OTEL_EXPORTER_OTLP_HEADERS` is read too. */
  headers?: Record<string, string>;
}

const PROTOCOLS: ReadonlySet<string> = new Set(['http/protobuf', 'http/json']);

function envNumber(name: string): number | undefined {
  const value = Number(process.env[name]);
  return process.env[name] !== undefined && Number.isFinite(value) && value > 0 ? value : undefined;
}

/** Where the data goes, for a message: scheme, host and path, never credentials or query. */
function endpointOf(url: unknown): string {
  const raw = typeof url === 'string' ? url : (process.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT);
  try {
    const u = new URL(raw ?? 'http://localhost:4318/v1/metrics');
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'an invalid URL';
  }
}

/** Says the first failed export (a down, refusing or hanging collector), which the OTel SDK only tells a diag logger. */
function reporting(exporter: PushMetricExporter, notices: Notices, endpoint: string): PushMetricExporter {
  return {
    export: (metrics, done) =>
      exporter.export(metrics, (result) => {
        if (result.code !== ExportResultCode.SUCCESS) {
          const reason = result.error instanceof Error ? result.error.message : 'unknown error';
          notices.warn('export_failed', `OTLP metrics export to ${endpoint} failed (${reason.slice(0, 200)}); later failures are not printed`);
        }
        done(result);
      }),
    forceFlush: () => exporter.forceFlush(),
    shutdown: () => exporter.shutdown(),
    selectAggregationTemporality: exporter.selectAggregationTemporality?.bind(exporter),
    selectAggregation: exporter.selectAggregation?.bind(exporter),
  };
}

/** The OTLP reader, or undefined (reported once) when the protocol is not one this SDK sends. */
export function createOtlpReader(options: OtlpOptions, producers: MetricProducer[], notices: Notices): PeriodicExportingMetricReader | undefined {
  const protocol: unknown =
    options.protocol ?? process.env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL ?? process.env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
  if (typeof protocol !== 'string' || !PROTOCOLS.has(protocol)) {
    const name = typeof protocol === 'string' ? JSON.stringify(protocol.slice(0, 32)) : 'a non-string';
    notices.warn(
      'otlp_protocol',
      `OTLP protocol ${name} is not supported (only http/protobuf and http/json; for grpc, point a collector's OTLP/HTTP receiver, port 4318, at it); OTLP export is off`,
    );
    return undefined;
  }
  const exportIntervalMillis = options.intervalMs ?? envNumber('OTEL_METRIC_EXPORT_INTERVAL') ?? 60_000;
  const exportTimeoutMillis = Math.min(envNumber('OTEL_METRIC_EXPORT_TIMEOUT') ?? 30_000, exportIntervalMillis);
  // The exporter gives up (retries included) when the reader does, so no request outlives its export.
  const timeoutMillis = Math.min(envNumber('OTEL_EXPORTER_OTLP_METRICS_TIMEOUT') ?? envNumber('OTEL_EXPORTER_OTLP_TIMEOUT') ?? 10_000, exportTimeoutMillis);
  const config = { url: options.url, headers: options.headers, timeoutMillis };
  const exporter = protocol === 'http/json' ? new OtlpJsonExporter(config) : new OtlpProtoExporter(config);
  return new PeriodicExportingMetricReader({
    exporter: reporting(exporter, notices, endpointOf(options.url)),
    exportIntervalMillis,
    exportTimeoutMillis,
    metricProducers: producers,
  });
}
