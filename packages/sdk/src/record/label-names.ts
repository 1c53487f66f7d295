/**
 * Attribute keys a host gives, made safe for any Prometheus writer where they enter: so the
 * exposition is valid whichever writer serializes it, and two keys that would collide there are
 * caught here, where one of them can be dropped.
 */

const MAX_KEY_LENGTH = 128;
// Prometheus reserves these for histograms and summaries.
const RESERVED: ReadonlySet<string> = new Set(['le', 'quantile']);

/**
 * An attribute key as a valid Prometheus label name, the way the OpenTelemetry Prometheus exporter
 * sanitizes names (every character outside `[a-zA-Z0-9_]` becomes `_`, runs of `_` collapse to
 * one) plus the OTel Prometheus-compatibility rule for a leading digit (`key_` prefix), which that
 * exporter lacks; `le` and `quantile` get the prefix too. Empty when nothing is left.
 */
export function labelName(key: string): string {
  const name = key.slice(0, MAX_KEY_LENGTH).replace(/[^a-zA-Z0-9_]/g, '_').replace(/_{2,}/g, '_');
  return /^[0-9]/.test(name) || RESERVED.has(name) ? `key_${name}` : name;
}

/**
 * A resource attribute key: kept as it is when it is a dotted name every writer maps to a valid
 * label (`deployment.environment` → `deployment_environment`), since its dots mean something to
 * OTLP backends; otherwise made a label name as above. Empty when nothing is left.
 */
export function resourceKey(key: string): string {
  return /^[a-zA-Z_][a-zA-Z0-9_.]*$/.test(key) && key.length <= MAX_KEY_LENGTH && !RESERVED.has(key) ? key : labelName(key);
}
