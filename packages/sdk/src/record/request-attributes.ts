/**
 * Attributes a host declares up front (tenant, route, priority...) and gives per request. Each one
 * is bounded by its own value limit, so a request attribute can never grow the series without end.
 */
import { ATTR_ERROR_TYPE, ATTR_FINISH_REASON, ATTR_MISUSE_REASON, ATTR_MODEL, ATTR_OPERATION, ATTR_PROVIDER, ATTR_TOKEN_TYPE } from './catalog.js';
import { labelName } from './label-names.js';
import { ValueLimiter } from './limiter.js';
import type { MisuseLog, Notices } from './notices.js';

export interface RequestAttributeOptions {
  /** Distinct values kept as they are; every later value is recorded as `_OTHER`. Default 16. */
  maxValues?: number;
}

/** `createLlmMetrics({ attributes })`: each key an attribute requests may carry, with its limit. */
export type RequestAttributeDeclarations = Readonly<Record<string, RequestAttributeOptions>>;

/** Values a request carries for the declared attributes (`startRequest({ attributes })`). Only strings count. */
export type RequestAttributeValues = Readonly<Record<string, string | undefined>>;

export const DEFAULT_MAX_VALUES = 16;
/** Each attribute multiplies the series; a handful is what dashboards can break down by anyway. */
export const MAX_REQUEST_ATTRIBUTES = 8;
/** Keys read from one request's attributes before the rest are ignored: a huge object costs a bounded scan. */
const MAX_KEYS_READ = 64;

/**
 * Label names a request attribute must not take: the SDK's own attributes, the labels Prometheus and
 * the OTel exporters add to every series, and the GenAI namespace, which belongs to the semantic conventions.
 */
const SDK_LABELS: ReadonlySet<string> = new Set(
  [ATTR_MODEL, ATTR_OPERATION, ATTR_PROVIDER, ATTR_TOKEN_TYPE, ATTR_ERROR_TYPE, ATTR_FINISH_REASON, ATTR_MISUSE_REASON, 'job', 'instance'].map(labelName),
);
const isReserved = (name: string) => SDK_LABELS.has(name) || /^(gen_ai|otel_scope|inferwatch)_/i.test(name) || /^(gen_ai|inferwatch)$/i.test(name);

interface Declared {
  /** The key the host passes values under. */
  readonly key: string;
  /** The attribute (and label) name it is recorded under. */
  readonly name: string;
  readonly limiter: ValueLimiter;
}

/** The declared attributes of one recorder; `read` runs once per request that names any. */
export class RequestAttributes {
  readonly declared: readonly Declared[];
  private readonly index = new Map<string, number>();

  constructor(declarations: unknown, maxLength: number, notices: Notices) {
    const declared: Declared[] = [];
    const names = new Set<string>();
    const refuse = (kind: string, key: string, why: string) =>
      notices.warn(`attributes:${kind}`, `createLlmMetrics({ attributes }): ${JSON.stringify(key.slice(0, 64))} ${why}; it is left out`);
    if (declarations !== undefined && (typeof declarations !== 'object' || declarations === null || Array.isArray(declarations))) {
      notices.warn('attributes:invalid', 'createLlmMetrics({ attributes }) must be an object like { tenant: { maxValues: 50 } }; no request attributes are recorded');
    } else if (declarations !== undefined) {
      for (const key of Object.keys(declarations)) {
        const name = labelName(key);
        if (name === '' || name === '_') refuse('invalid', key, 'is no usable attribute name');
        else if (isReserved(name)) refuse('reserved', key, `would be the label ${name}, which the SDK or Prometheus uses itself`);
        else if (names.has(name)) refuse('duplicate', key, `would be the label ${name}, which an earlier attribute already is`);
        else if (declared.length >= MAX_REQUEST_ATTRIBUTES) refuse('too_many', key, `is past the ${MAX_REQUEST_ATTRIBUTES} attributes a recorder takes`);
        else {
          names.add(name);
          this.index.set(key, declared.length);
          declared.push({ key, name, limiter: new ValueLimiter(maxValuesOf((declarations as Record<string, unknown>)[key], key, notices), maxLength) });
        }
      }
    }
    this.declared = declared;
  }

  /**
   * The request's values in declaration order (undefined where it gives none), truncated like every
   * attribute value; undefined when it gives no value at all. Undeclared keys and values that are not
   * strings are ignored and counted as misuse, once per request.
   */
  read(given: unknown, maxLength: number, misuse: MisuseLog): (string | undefined)[] | undefined {
    let values: (string | undefined)[] | undefined;
    let undeclared = false;
    let invalid = false;
    let read = 0;
    try {
      // Array.isArray throws on a revoked proxy: inside the try, like every read of the caller's object.
      if (typeof given !== 'object' || given === null || Array.isArray(given)) {
        misuse.report('invalid_argument', 'startRequest({ attributes }) needs an object of strings');
        return undefined;
      }
      for (const key in given) {
        if (++read > MAX_KEYS_READ) break;
        const i = this.index.get(key);
        if (i === undefined) {
          if (Object.hasOwn(given, key)) undeclared = true;
          continue;
        }
        const value: unknown = (given as Record<string, unknown>)[key];
        if (typeof value === 'string') {
          if (value === '') continue;
          values ??= new Array<string | undefined>(this.declared.length);
          values[i] = value.length > maxLength ? value.slice(0, maxLength) : value;
        } else if (value !== undefined) invalid = true;
      }
    } catch {
      // A getter or proxy trap that threw: what was read so far stands.
      invalid = true;
    }
    if (undeclared) misuse.report('invalid_argument', 'startRequest({ attributes }) named an attribute not declared in createLlmMetrics({ attributes })', 'attributes:undeclared');
    if (invalid) misuse.report('invalid_argument', 'startRequest({ attributes }) gave a value that is not a string', 'attributes:not_string');
    return values;
  }
}

function maxValuesOf(options: unknown, key: string, notices: Notices): number {
  let given: unknown;
  try {
    given = typeof options === 'object' && options !== null ? (options as RequestAttributeOptions).maxValues : undefined;
  } catch {
    given = null;
  }
  if (given === undefined) return DEFAULT_MAX_VALUES;
  if (typeof given === 'number' && Number.isSafeInteger(given) && given > 0) return given;
  notices.warn('attributes:max_values', `createLlmMetrics({ attributes }): maxValues of ${JSON.stringify(key.slice(0, 64))} must be a positive integer; using ${DEFAULT_MAX_VALUES}`);
  return DEFAULT_MAX_VALUES;
}
