/**
 * What the standard `OTEL_EXPORTER_OTLP_*` variables say for one signal, resolved in one place for the
 * metrics and the trace exporters: the signal's own variable first, then the general one, then the default.
 */
export type OtlpSignal = 'metrics' | 'traces';

const upper = (signal: OtlpSignal) => signal.toUpperCase();

/** The protocol asked for (lower-cased): the option, the signal's variable, the general one, else `http/protobuf`. */
export function otlpProtocol(signal: OtlpSignal, option: unknown): unknown {
  const value = option ?? process.env[`OTEL_EXPORTER_OTLP_${upper(signal)}_PROTOCOL`] ?? process.env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
  return typeof value === 'string' ? value.trim().toLowerCase() : value;
}

export const SUPPORTED_PROTOCOLS: ReadonlySet<unknown> = new Set(['http/protobuf', 'http/json']);

/**
 * The URL the exporter posts to, for messages: scheme, host and path, never credentials or query. The
 * signal's variable is used as it is; the general endpoint gets `/v1/<signal>` appended, as the exporters do.
 */
export function otlpUrl(signal: OtlpSignal, option: unknown): string {
  let raw: string;
  if (typeof option === 'string') raw = option;
  else if (process.env[`OTEL_EXPORTER_OTLP_${upper(signal)}_ENDPOINT`]) raw = process.env[`OTEL_EXPORTER_OTLP_${upper(signal)}_ENDPOINT`]!;
  else raw = `${(process.env.OTEL_EXPORTER_OTLP_ENDPOINT || 'http://localhost:4318').replace(/\/+$/, '')}/v1/${signal}`;
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'an invalid URL';
  }
}

/** A positive number from the environment, else undefined. */
export function envNumber(name: string): number | undefined {
  const value = Number(process.env[name]);
  return process.env[name] !== undefined && Number.isFinite(value) && value > 0 ? value : undefined;
}
