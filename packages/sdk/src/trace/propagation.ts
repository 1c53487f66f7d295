import { context as otelContext, propagation, type Context, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

/** Node's `req.headers` (lower-case keys) or a fetch `Headers`. */
export type HeaderCarrier = Record<string, string | string[] | undefined> | Headers;

const w3c = new W3CTraceContextPropagator();

const getter: TextMapGetter<HeaderCarrier> = {
  keys: (carrier) => (carrier instanceof Headers ? [...carrier.keys()] : Object.keys(carrier)),
  get: (carrier, key) => (carrier instanceof Headers ? (carrier.get(key) ?? undefined) : carrier[key.toLowerCase()]),
};

const setter: TextMapSetter<HeaderCarrier> = {
  set: (carrier, key, value) => {
    if (carrier instanceof Headers) carrier.set(key, value);
    else carrier[key] = value;
  },
};

/** The global propagator when one is registered (NodeSDK, startMetrics), else W3C trace context, so `traceparent` always flows. */
function propagator(): { extract: typeof w3c.extract; inject: typeof w3c.inject } {
  return propagation.fields().length > 0 ? propagation : w3c;
}

/** The caller's trace context from incoming headers (`traceparent`/`tracestate`), on top of the active context. */
export function extractTraceContext(headers: HeaderCarrier, base: Context = otelContext.active()): Context {
  try {
    return propagator().extract(base, headers, getter);
  } catch {
    return base;
  }
}

/** Writes `ctx`'s trace context into outgoing headers (a plain object or a fetch `Headers`). */
export function injectTraceContext(ctx: Context, headers: HeaderCarrier): void {
  try {
    propagator().inject(ctx, headers, setter);
  } catch {
    // Headers that refuse a value (frozen, guarded) leave the request untraced rather than failing it.
  }
}
