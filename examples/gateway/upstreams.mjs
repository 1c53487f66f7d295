// Where a model's requests go: per-model routes, else every upstream; round-robin, and the order to
// fail over in when one is down.

export class Upstreams {
  /** `urls`: every upstream; `routes`: model → its upstreams. */
  constructor(urls, routes = {}) {
    this.urls = [...new Set([...urls, ...Object.values(routes).flat()])].map((u) => u.replace(/\/+$/, ''));
    this.routes = Object.fromEntries(Object.entries(routes).map(([model, list]) => [model, list.map((u) => u.replace(/\/+$/, ''))]));
    this.next = new Map();
  }

  /** The upstreams to try for `model`, starting with the next in turn. */
  candidates(model) {
    const list = this.routes[model] ?? this.urls;
    const start = this.next.get(model) ?? 0;
    this.next.set(model, (start + 1) % list.length);
    return [...list.slice(start), ...list.slice(0, start)];
  }
}
