// Request attributes from request headers (--attribute tenant=header:x-tenant[:max=N]): each becomes
// an attribute of every metric and the span of its request, bounded by its own value limit.

// Headers that carry credentials: their values must never become labels, whatever a flag asks.
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'x-api-key', 'api-key']);

/**
 * A request attribute read from a header.
 * @typedef {object} AttributeSpec
 * @property {string} name  the attribute
 * @property {string} header
 * @property {number | undefined} [maxValues]  distinct values kept (default: the SDK's)
 */

/**
 * `NAME=header:HEADER[:max=N]` as { name, header, maxValues }; throws with the reason for anything else.
 * @param {string} text
 * @returns {AttributeSpec}
 */
export function parseAttributeFlag(text) {
  const match = /^([^=]+)=header:([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?::max=([1-9][0-9]*))?$/.exec(text);
  if (match === null) throw new Error(`--attribute ${JSON.stringify(text)}: expected NAME=header:HEADER or NAME=header:HEADER:max=N`);
  return { name: match[1], header: match[2], maxValues: match[3] === undefined ? undefined : Number(match[3]) };
}

/**
 * The SDK's attribute declarations and the per-request reader for `specs` ([{ name, header, maxValues }]).
 * Throws for a header that carries credentials, and for a name given twice.
 * @param {readonly AttributeSpec[]} specs
 */
export function headerAttributes(specs) {
  /** @type {Record<string, import('@inferwatch/sdk').RequestAttributeOptions>} */
  const declarations = {};
  /** @type {[name: string, header: string][]} */
  const headers = [];
  for (const { name, header, maxValues } of specs) {
    const lower = header.toLowerCase();
    if (CREDENTIAL_HEADERS.has(lower)) throw new Error(`--attribute ${name}: the ${lower} header carries credentials, which never become labels`);
    if (Object.hasOwn(declarations, name)) throw new Error(`--attribute ${name} is given twice`);
    declarations[name] = maxValues === undefined ? {} : { maxValues };
    headers.push([name, lower]);
  }
  // A request without the header leaves the attribute off (the series has no such label).
  /** @type {import('@inferwatch/http').RequestAttributesOf} */
  const read = (req) => {
    /** @type {Record<string, string | string[] | undefined>} */
    const values = {};
    for (const [name, header] of headers) values[name] = req.headers[header];
    return values;
  };
  return { declarations, read: headers.length === 0 ? undefined : read };
}
