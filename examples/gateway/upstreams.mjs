// Where a model's requests go: per-model routes, else every upstream; round-robin, and the order to
// fail over in when one is down. Credentials in an upstream URL become an Authorization header and
// leave the URL, so the URL can be shown (health, errors, logs, labels) without them.

/**
 * `{ url, headers }` from an upstream URL: `url` without userinfo or trailing slashes, its credentials as Basic auth.
 * @param {string} raw
 * @returns {{ url: string, headers: Record<string, string> }}
 */
export function parseUpstream(raw) {
  let parsed;
  try {
    parsed = new URL(raw);
  } catch {
    throw new Error('an upstream is not a valid URL');
  }
  /** @type {Record<string, string>} */
  const headers = {};
  if (parsed.username !== '' || parsed.password !== '') {
    const credentials = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
    headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
    parsed.username = '';
    parsed.password = '';
  }
  return { url: parsed.href.replace(/\/+$/, ''), headers };
}

export class Upstreams {
  /**
   * `urls`: every upstream; `routes`: model → its upstreams.
   * @param {readonly string[]} urls
   * @param {Readonly<Record<string, readonly string[]>>} [routes]
   */
  constructor(urls, routes = {}) {
    /** @type {Map<string, Record<string, string>>} */
    this.headers = new Map();
    /** @param {string} raw */
    const clean = (raw) => {
      const { url, headers } = parseUpstream(raw);
      if (Object.keys(headers).length > 0) this.headers.set(url, headers);
      return url;
    };
    this.routes = Object.fromEntries(Object.entries(routes).map(([model, list]) => [model, [...new Set(list.map(clean))]]));
    this.urls = [...new Set([...urls.map(clean), ...Object.values(this.routes).flat()])];
    /** @type {Map<string, number>} model → the index of the upstream to try first next time */
    this.next = new Map();
  }

  /**
   * Headers every request to `url` carries (its credentials).
   * @param {string} url
   */
  headersFor(url) {
    return this.headers.get(url) ?? {};
  }

  /**
   * The upstreams to try for `model`, starting with the next in turn.
   * @param {string} model
   */
  candidates(model) {
    const list = this.routes[model] ?? this.urls;
    const start = this.next.get(model) ?? 0;
    this.next.set(model, (start + 1) % list.length);
    return [...list.slice(start), ...list.slice(0, start)];
  }
}
