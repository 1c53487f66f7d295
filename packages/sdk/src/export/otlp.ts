/**
 * OTLP metrics push: a periodic reader around the OTel OTLP exporter, which is an optional peer
 * (`@opentelemetry/exporter-metrics-otlp-proto`, or `-http` for http/json) loaded only when OTLP is on.
 */
import { ExportResultCode } from '@opentelemetry/core';
import { PeriodicExportingMetricReader, type MetricProducer, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { errorText, type Notices } from '../record/notices.js';
import { optionalPackage } from './optional-package.js';
import { envNumber, otlpProtocol, otlpUrl, SUPPORTED_PROTOCOLS } from './otlp-env.js';

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

export const OTLP_OPTION_KEYS = ['url', 'protocol', 'intervalMs', 'headers'] as const;

interface ExporterModule {
  OTLPMetricExporter: new (config: { url?: string; headers?: Record<string, string>; timeoutMillis?: number }) => PushMetricExporter;
}

/** Says the first failed export (a down, refusing or hanging collector), which the OTel SDK only tells a diag logger. */
function reporting(exporter: PushMetricExporter, notices: Notices, url: string): PushMetricExporter {
  return {
    export: (metrics, done) =>
      exporter.export(metrics, (result) => {
        if (result.code !== ExportResultCode.SUCCESS) {
          notices.warn('export_failed', `OTLP metrics export to ${url} failed (${errorText(result.error)}); later failures are not printed`);
        }
        done(result);
      }),
    forceFlush: () => exporter.forceFlush(),
    shutdown: () => exporter.shutdown(),
    selectAggregationTemporality: exporter.selectAggregationTemporality?.bind(exporter),
    selectAggregation: exporter.selectAggregation?.bind(exporter),
  };
}

/** The OTLP reader, or why there is none: a protocol this SDK does not send, or the exporter package missing (each said once). */
export function createOtlpReader(options: OtlpOptions, producers: MetricProducer[], notices: Notices): { reader: PeriodicExportingMetricReader } | { problem: string } {
  const protocol = otlpProtocol('metrics', options.protocol);
  if (!SUPPORTED_PROTOCOLS.has(protocol)) {
    const name = typeof protocol === 'string' ? JSON.stringify(protocol.slice(0, 32)) : 'a non-string';
    const problem = `OTLP protocol ${name} is not supported (only http/protobuf and http/json; for grpc, point a collector's OTLP/HTTP receiver, port 4318, at it); OTLP export is off`;
    notices.warn('otlp_protocol', problem);
    return { problem };
  }
  const name = protocol === 'http/json' ? '@opentelemetry/exporter-metrics-otlp-http' : '@opentelemetry/exporter-metrics-otlp-proto';
  const module = optionalPackage<ExporterModule>(name, 'OTLP metrics export', [name], notices);
  if (module === undefined) return { problem: `${name} is not installed (npm install ${name})` };
  const exportIntervalMillis = options.intervalMs ?? envNumber('OTEL_METRIC_EXPORT_INTERVAL') ?? 60_000;
  const exportTimeoutMillis = Math.min(envNumber('OTEL_METRIC_EXPORT_TIMEOUT') ?? 30_000, exportIntervalMillis);
  // The exporter gives up (retries included) when the reader does, so no request outlives its export.
  const timeoutMillis = Math.min(envNumber('OTEL_EXPORTER_OTLP_METRICS_TIMEOUT') ?? envNumber('OTEL_EXPORTER_OTLP_TIMEOUT') ?? 10_000, exportTimeoutMillis);
  const exporter = new module.OTLPMetricExporter({ url: options.url, headers: options.headers, timeoutMillis });
  const reader = new PeriodicExportingMetricReader({
    exporter: reporting(exporter, notices, otlpUrl('metrics', options.url)),
    exportIntervalMillis,
    exportTimeoutMillis,
    metricProducers: producers,
  });
  return { reader };
}
