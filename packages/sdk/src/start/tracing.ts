/**
 * The TracerProvider startMetrics makes when spans are asked for and the app has none. The trace SDK and
 * its OTLP exporter are optional peers (`@opentelemetry/sdk-trace-base`, `@opentelemetry/exporter-trace-otlp-proto`
 * or `-http`), loaded only then.
 */
import { diag, propagation, trace, type TracerProvider } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { optionalPackage } from '../export/optional-package.js';
import { otlpProtocol, otlpUrl, SUPPORTED_PROTOCOLS } from '../export/otlp-env.js';
import { errorText, type Notices } from '../record/notices.js';

export interface TracingOptions {
  /** `otlp` or `console`. Default: `OTEL_TRACES_EXPORTER`. */
  exporter?: 'otlp' | 'console';
  /** Full traces URL, e.g. `http://collector:4318/v1/traces`. Default: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`. */
  url?: string;
  /** Default: `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, `OTEL_EXPORTER_OTLP_PROTOCOL`, else `http/protobuf`. */
  protocol?: 'http/protobuf' | 'http/json';
  /** Extra headers; `OTEL_EXPORTER_OTLP_HEADERS` / `OTEL_EXPORTER_OTLP_TRACES_HEADERS` are read too. */
  headers?: Record<string, string>;
}

export const TRACING_OPTION_KEYS = ['exporter', 'url', 'protocol', 'headers'] as const;

/** The few shapes of @opentelemetry/sdk-trace-base this uses, declared here so the SDK's types never name the optional package. */
interface SpanExporterLike {
  export(spans: unknown[], done: (result: { code: number; error?: Error }) => void): void;
  shutdown(): Promise<void>;
}
interface ProviderLike extends TracerProvider {
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}
interface TraceBaseModule {
  BasicTracerProvider: new (config: { resource: Resource; spanProcessors: unknown[] }) => ProviderLike;
  BatchSpanProcessor: new (exporter: SpanExporterLike) => unknown;
  ConsoleSpanExporter: new () => SpanExporterLike;
}
interface TraceExporterModule {
  OTLPTraceExporter: new (config: { url?: string; headers?: Record<string, string> }) => SpanExporterLike;
}

export interface RunningTracing {
  readonly tracerProvider: TracerProvider;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** The exporter `OTEL_TRACES_EXPORTER` names (first of a list), or undefined when unset or `none`. */
function exporterFromEnv(): 'otlp' | 'console' | undefined {
  if (process.env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const names = (process.env.OTEL_TRACES_EXPORTER ?? '').split(',').map((s) => s.trim().toLowerCase());
  if (names.includes('none')) return undefined;
  if (names.includes('otlp')) return 'otlp';
  if (names.includes('console')) return 'console';
  if (process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return 'otlp';
  return undefined;
}

/** True when someone (NodeSDK, the user) already registered a global TracerProvider. */
function globalProviderRegistered(): boolean {
  const provider = trace.getTracerProvider() as TracerProvider & { getDelegateTracer?: (name: string) => unknown };
  return typeof provider.getDelegateTracer !== 'function' || provider.getDelegateTracer('@inferwatch/sdk') !== undefined;
}

/** Says the first failed span export, which the OTel SDK only tells a diag logger. */
function reporting(exporter: SpanExporterLike, notices: Notices, url: string): SpanExporterLike {
  return {
    export: (spans, done) =>
      exporter.export(spans, (result) => {
        if (result.code !== 0) {
          notices.warn('trace_export_failed', `OTLP trace export to ${url} failed (${errorText(result.error)}); later failures are not printed`);
        }
        done(result);
      }),
    shutdown: () => exporter.shutdown(),
  };
}

export type TracingStart = { tracing: RunningTracing } | { off: string } | { problem: string };

/**
 * Creates a TracerProvider with a batch processor and registers it (with the W3C propagator) as the global
 * one when `register` is set, unless the app registered one already (its NodeSDK wins) or no exporter is
 * asked for. Says why when it cannot: a protocol it does not send, a missing package.
 */
export function startTracing(options: TracingOptions | undefined, resource: Resource, register: boolean, notices: Notices): TracingStart {
  const kind = options?.exporter ?? exporterFromEnv();
  if (kind === undefined) return { off: 'no trace exporter is asked for (OTEL_TRACES_EXPORTER)' };
  if (register && globalProviderRegistered()) return { off: 'the app registered its own TracerProvider; request spans go to it' };
  const install = ['@opentelemetry/sdk-trace-base'];
  let exporterName: string | undefined;
  if (kind === 'otlp') {
    const protocol = otlpProtocol('traces', options?.protocol);
    if (!SUPPORTED_PROTOCOLS.has(protocol)) {
      const problem = `OTLP trace protocol ${typeof protocol === 'string' ? JSON.stringify(protocol.slice(0, 32)) : 'a non-string'} is not supported (only http/protobuf and http/json); request spans are off`;
      notices.warn('otlp_trace_protocol', problem);
      return { problem };
    }
    exporterName = protocol === 'http/json' ? '@opentelemetry/exporter-trace-otlp-http' : '@opentelemetry/exporter-trace-otlp-proto';
    install.push(exporterName);
  }
  const base = optionalPackage<TraceBaseModule>('@opentelemetry/sdk-trace-base', 'Tracing', install, notices);
  // With the trace SDK missing, its notice already names the exporter too: one line to run, said once.
  const exporterModule =
    exporterName === undefined || base === undefined ? undefined : optionalPackage<TraceExporterModule>(exporterName, 'OTLP trace export', [exporterName], notices);
  if (base === undefined || (exporterName !== undefined && exporterModule === undefined)) return { problem: `request spans need ${install.join(' and ')} (npm install ${install.join(' ')})` };
  let tracerProvider: ProviderLike;
  try {
    const exporter =
      exporterModule === undefined
        ? new base.ConsoleSpanExporter()
        : reporting(new exporterModule.OTLPTraceExporter({ url: options?.url, headers: options?.headers }), notices, otlpUrl('traces', options?.url));
    tracerProvider = new base.BasicTracerProvider({ resource, spanProcessors: [new base.BatchSpanProcessor(exporter)] });
  } catch (error) {
    // A bad exporter setting costs the spans, never the host's start-up.
    const problem = `tracing could not start (${errorText(error)}); request spans are off`;
    notices.warn('tracing_failed', problem);
    return { problem };
  }
  const registered = register && trace.setGlobalTracerProvider(tracerProvider);
  // Without a registered propagator the API's inject/extract do nothing; W3C is what vLLM and the collectors read.
  const propagatorSet = register && propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  return {
    tracing: {
      tracerProvider,
      forceFlush: () => tracerProvider.forceFlush(),
      async shutdown() {
        try {
          await tracerProvider.shutdown();
        } catch (error) {
          diag.error('inferwatch: tracing shutdown failed', error);
        }
        if (registered) trace.disable();
        if (propagatorSet) propagation.disable();
      },
    },
  };
}
