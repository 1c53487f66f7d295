/**
 * The resource every export carries: OTel's defaults (`service.name`, the SDK's telemetry attributes), the
 * caller's attributes, this process's own `service.instance.id`, and `OTEL_SERVICE_NAME` /
 * `OTEL_RESOURCE_ATTRIBUTES` last, so operators can relabel.
 */
import { randomUUID } from 'node:crypto';
import type { Attributes } from '@opentelemetry/api';
import { defaultResource, detectResources, envDetector, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { resourceKey } from '../record/label-names.js';

/**
 * One per process, for its whole life: several processes of one service (cluster workers, replicas)
 * must never look like one writer whose cumulative values jump between them.
 */
export const SERVICE_INSTANCE_ID = randomUUID();

export function buildResource(serviceName: unknown, attributes: unknown): Resource {
  const defaults = defaultResource();
  const own: Attributes = { 'service.instance.id': SERVICE_INSTANCE_ID, ...resourceAttributes(attributes, defaults.attributes) };
  if (typeof serviceName === 'string') own['service.name'] = serviceName;
  return defaults.merge(resourceFromAttributes(own)).merge(detectResources({ detectors: [envDetector] }));
}

/**
 * The caller's resource attributes with keys every Prometheus writer can label with (see resourceKey).
 * A key that would become the same label as an earlier one, or as one of the SDK's own resource
 * attributes (`service_name` next to `service.name`), is left out: a label twice makes the whole
 * exposition invalid.
 */
function resourceAttributes(raw: unknown, defaults: Attributes): Attributes {
  const out: Attributes = {};
  if (typeof raw !== 'object' || raw === null) return out;
  const asLabel = (key: string) => key.replace(/\./g, '_');
  const taken = new Map([...Object.keys(defaults), 'service.instance.id'].map((key) => [asLabel(key), key]));
  for (const [key, value] of Object.entries(raw)) {
    const name = resourceKey(key);
    const label = asLabel(name);
    if (name === '' || (taken.has(label) && taken.get(label) !== name) || Object.hasOwn(out, name)) continue;
    taken.set(label, name);
    out[name] = value as Attributes[string];
  }
  return out;
}
