// What the gateway serves: the models each upstream lists at /v1/models (refreshed), plus its routes.
// A name outside this catalog is answered with 404 and never becomes a metric label.

const MAX_MODELS_PER_UPSTREAM = 1000;

/** @typedef {{ id: string, [field: string]: unknown }} Model  an entry of an OpenAI model list, as the upstream listed it */

export class ModelCatalog {
  /**
   * @param {import('./upstreams.mjs').Upstreams} upstreams
   * @param {{ refreshMs?: number, timeoutMs?: number, minGapMs?: number }} [options]
   */
  constructor(upstreams, { refreshMs = 30_000, timeoutMs = 2000, minGapMs = 1000 } = {}) {
    this.upstreams = upstreams;
    this.timeoutMs = timeoutMs;
    this.minGapMs = minGapMs;
    /** @type {Map<string, Map<string, Model>>} upstream URL → Map(id → model object), as last listed; an upstream that stops answering keeps its last list. */
    this.listed = new Map();
    this.lastRefresh = -Infinity;
    /** @type {Promise<unknown> | undefined} the round in progress */
    this.refreshing = undefined;
    this.timer = setInterval(() => void this.refresh(), refreshMs).unref();
  }

  /** @param {string} id */
  has(id) {
    if (Object.hasOwn(this.upstreams.routes, id)) return true;
    for (const models of this.listed.values()) if (models.has(id)) return true;
    return false;
  }

  /**
   * Whether `id` is served, refreshing first if it is not known yet (at most once per `minGapMs`), for no longer than `signal` allows.
   * @param {string} id
   * @param {AbortSignal} signal
   */
  async knows(id, signal) {
    if (this.has(id)) return true;
    if (performance.now() - this.lastRefresh >= this.minGapMs) {
      await /** @type {Promise<void>} */ (new Promise((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        const onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        this.refresh().then(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        });
      }));
    }
    return this.has(id);
  }

  /** The `data` of an OpenAI model list: every upstream's models, then routed names none listed. */
  list() {
    /** @type {Map<string, Model>} */
    const seen = new Map();
    for (const models of this.listed.values()) for (const [id, model] of models) if (!seen.has(id)) seen.set(id, model);
    for (const id of Object.keys(this.upstreams.routes)) if (!seen.has(id)) seen.set(id, { id, object: 'model', created: 0, owned_by: 'inferwatch-gateway' });
    return [...seen.values()];
  }

  /** Lists every upstream's models; concurrent calls share one round. */
  refresh() {
    this.refreshing ??= Promise.all(this.upstreams.urls.map((url) => this.refreshOne(url))).finally(() => {
      this.lastRefresh = performance.now();
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** @param {string} url */
  async refreshOne(url) {
    try {
      const res = await fetch(`${url}/v1/models`, { headers: this.upstreams.headersFor(url), signal: AbortSignal.timeout(this.timeoutMs) });
      if (!res.ok) return void (await res.body?.cancel());
      // Any JSON: only the entries of an object's `data` array that have a non-empty string id are kept.
      const list = /** @type {{ data?: unknown } | null} */ (await res.json());
      /** @type {Map<string, Model>} */
      const models = new Map();
      for (const m of /** @type {({ id?: unknown } | null)[]} */ (Array.isArray(list?.data) ? list.data : [])) {
        if (typeof m?.id === 'string' && m.id !== '' && models.size < MAX_MODELS_PER_UPSTREAM) models.set(m.id, /** @type {Model} */ (m));
      }
      this.listed.set(url, models);
    } catch {
      // An upstream that does not answer keeps what it listed last.
    }
  }

  stop() {
    clearInterval(this.timer);
  }
}
