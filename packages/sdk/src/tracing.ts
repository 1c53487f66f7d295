import { diag, propagation, trace, type TracerProvider } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as OtlpJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter, type SpanExporter } from '@opentelemetry/sdk-trace-base';

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

export interface RunningTracing {
  readonly tracerProvider: BasicTracerProvider;
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

function createExporter(kind: 'otlp' | 'console', options: TracingOptions): SpanExporter {
  if (kind === 'console') return new ConsoleSpanExporter();
  const protocol =
    options.protocol ?? process.env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? process.env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
  const config = { url: options.url, headers: options.headers };
  return protocol === 'http/json' ? new OtlpJsonTraceExporter(config) : new OtlpProtoTraceExporter(config);
}

/**
 * Creates and registers a global TracerProvider with a batch processor, unless one is registered already
 * (the user's NodeSDK wins) or no exporter is asked for. Returns undefined when it created nothing.
 */
export function startTracing(options: TracingOptions | undefined, resource: Resource, registerGlobal: boolean): RunningTracing | undefined {
  const kind = options?.exporter ?? exporterFromEnv();
  if (kind === undefined) return undefined;
  if (registerGlobal && globalProviderRegistered()) {
    diag.debug('inferwatch: a TracerProvider is registered already; request spans go to it');
    return undefined;
  }
  let tracerProvider: BasicTracerProvider;
  try {
    tracerProvider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(createExporter(kind, options ?? {}))] });
  } catch (error) {
    // A bad exporter setting costs the spans, never the host's start-up.
    diag.error('inferwatch: tracing could not start; request spans are off', error);
    return undefined;
  }
  const registered = registerGlobal && trace.setGlobalTracerProvider(tracerProvider);
  // Without a registered propagator the API's inject/extract do nothing; W3C is what vLLM and the collectors read.
  const propagatorSet =
    registerGlobal &&
    propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  return {
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
  };
}
