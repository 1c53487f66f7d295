// The gateway: an OpenAI-compatible proxy that records every request's lifecycle with @inferwatch/sdk.
// Each completion is an exchange (@inferwatch/http): it is recorded exactly once whatever the client,
// the body or the upstream does, and every wait below races the client's departure and the deadline.
import { createServer } from 'node:http';
import { createLlmMetrics, injectTraceContext, startMetrics } from '@inferwatch/sdk';
import { HttpError, openExchange } from '@inferwatch/http';
import { headerAttributes } from './attributes.mjs';
import { bearerCheck } from './auth.mjs';
import { EngineBridge } from './bridge.mjs';
import { Limiter, QueueFullError } from './limiter.mjs';
import { ModelCatalog } from './models.mjs';
import { Upstreams } from './upstreams.mjs';
import { validate } from './validate.mjs';

/** @typedef {import('node:http').IncomingMessage} IncomingMessage */
/** @typedef {import('node:http').ServerResponse} ServerResponse */

/**
 * @typedef {object} GatewayOptions
 * @property {readonly string[]} [upstreams]  URLs; userinfo becomes Basic auth
 * @property {Readonly<Record<string, readonly string[]>>} [routes]  model → its upstreams
 * @property {number} [port]
 * @property {string} [host]
 * @property {number} [maxConcurrency]
 * @property {number} [maxQueue]
 * @property {number} [timeoutMs]  a request's deadline from its arrival
 * @property {number} [bodyTimeoutMs]
 * @property {number} [headersTimeoutMs]
 * @property {number} [maxBodyBytes]
 * @property {number} [maxJsonDepth]
 * @property {readonly string[]} [apiKeys]
 * @property {string} [metricsToken]  protects /metrics and /dashboard
 * @property {number} [modelsRefreshMs]
 * @property {number} [bridgeIntervalMs]  0: no engine bridge
 * @property {boolean} [instrument]  false: no SDK, for baselines
 * @property {number} [logIntervalMs]  0: no log line
 * @property {import('@inferwatch/sdk').GpuOption} [gpu]
 * @property {readonly import('./attributes.mjs').AttributeSpec[]} [attributes]  request attributes from headers
 */

/**
 * @param {ServerResponse} res
 * @param {number} status
 * @param {unknown} body  a string is sent as it is
 * @param {Record<string, string>} [headers]
 */
function sendJson(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(typeof body === 'string' ? body : JSON.stringify(body));
}

/**
 * @param {ServerResponse} res
 * @param {HttpError} error
 * @param {Record<string, string>} [headers]
 */
const sendError = (res, error, headers = {}) => sendJson(res, error.status, error.body(), headers);
const INVALID_API_KEY = new HttpError(401, 'Incorrect API key provided. Send one of the gateway\'s keys as `Authorization: Bearer KEY`.', { code: 'invalid_api_key' });
const INVALID_METRICS_TOKEN = new HttpError(401, 'The metrics need `Authorization: Bearer TOKEN`.', { code: 'invalid_api_key' });

/**
 * Starts the gateway. Options: upstreams (URLs; userinfo becomes Basic auth), routes ({ model: [URLs] }),
 * port, host, maxConcurrency, maxQueue, timeoutMs (a request's deadline from its arrival),
 * bodyTimeoutMs, headersTimeoutMs, maxBodyBytes, maxJsonDepth, apiKeys, metricsToken (protects /metrics
 * and /dashboard), modelsRefreshMs, bridgeIntervalMs, instrument (false: no SDK, for baselines), logIntervalMs, gpu,
 * attributes ([{ name, header, maxValues }]: request attributes from headers; credential headers are refused).
 * Resolves to { url, server, llm, inFlight(), close() }.
 * @param {GatewayOptions} options
 */
export async function startGateway(options) {
  const attributes = headerAttributes(options.attributes ?? []);
  const upstreams = new Upstreams(options.upstreams ?? [], options.routes ?? {});
  if (upstreams.urls.length === 0) throw new Error('the gateway needs at least one upstream');
  const limiter = new Limiter(options.maxConcurrency ?? 64, options.maxQueue ?? 256);
  const catalog = new ModelCatalog(upstreams, { refreshMs: options.modelsRefreshMs ?? 30_000 });
  void catalog.refresh();
  const timeoutMs = options.timeoutMs ?? 300_000;
  const limits = {
    timeoutMs,
    bodyTimeoutMs: options.bodyTimeoutMs ?? 30_000,
    maxBodyBytes: options.maxBodyBytes ?? 10 * 1024 * 1024,
    maxJsonDepth: options.maxJsonDepth ?? 64,
  };
  const apiKeyOk = bearerCheck(options.apiKeys ?? []);
  const metricsTokenOk = bearerCheck(options.metricsToken ? [options.metricsToken] : []);
  const instrument = options.instrument !== false;

  const llm = instrument
    ? createLlmMetrics({
        provider: 'inferwatch-gateway',
        attributes: attributes.declarations,
        // Only what some upstream serves gets a series: any other name the clients send shares `_OTHER`.
        models: (model) => catalog.has(model),
        log: options.logIntervalMs === 0 ? false : { intervalMs: options.logIntervalMs ?? 10_000, sink: (line) => console.log(`INFO gateway] ${line}`) },
      })
    : undefined;
  const telemetry = instrument ? startMetrics({ serviceName: 'inferwatch-gateway', llm, gpu: options.gpu ?? false, meterProvider: 'private', dashboard: { token: options.metricsToken } }) : undefined;
  const meter = telemetry?.meterProvider?.getMeter('inferwatch-gateway');
  if (meter) {
    meter.createObservableGauge('inferwatch.gateway.queue.size', { unit: '{request}', description: 'Requests waiting for a slot in the gateway.' }).addCallback((r) => r.observe(limiter.queue.length));
    meter.createObservableGauge('inferwatch.gateway.active', { unit: '{request}', description: 'Requests holding a gateway slot (forwarded upstream).' }).addCallback((r) => r.observe(limiter.active));
  }
  const bridge = llm && options.bridgeIntervalMs !== 0 ? new EngineBridge(llm, upstreams.urls, { intervalMs: options.bridgeIntervalMs ?? 5000 }) : undefined;
  let inFlight = 0;

  /** @param {ServerResponse} res */
  async function models(res) {
    if (catalog.listed.size === 0) await catalog.refresh();
    sendJson(res, 200, { object: 'list', data: catalog.list() });
  }

  /**
   * Forwards to each candidate in turn until one answers below 500, and streams its answer back.
   * @param {string} path
   * @param {Buffer} raw  the request body
   * @param {string} model
   * @param {import('@inferwatch/http').Exchange} exchange
   * @param {ServerResponse} res
   */
  async function forward(path, raw, model, exchange, res) {
    let lastError = 'no upstream answered';
    const headers = { 'content-type': 'application/json' };
    // The upstream (a vLLM with tracing on) continues the trace as a child of this request's span.
    const handle = exchange.handle();
    if (handle !== undefined) injectTraceContext(handle.traceContext(), headers);
    for (const url of upstreams.candidates(model)) {
      let upstream;
      try {
        upstream = await fetch(`${url}${path}`, { method: 'POST', body: raw, headers: { ...headers, ...upstreams.headersFor(url) }, signal: exchange.signal });
      } catch (error) {
        if (exchange.signal.aborted) throw error;
        lastError = `${url} is unreachable`;
        continue;
      }
      if (upstream.status >= 500) {
        await upstream.body?.cancel();
        lastError = `${url} answered ${upstream.status}`;
        continue;
      }
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json', 'cache-control': 'no-cache' });
      try {
        // An answer without a body (a 204) ends here.
        if (upstream.body !== null) for await (const chunk of upstream.body) await exchange.write(chunk);
      } catch (error) {
        if (exchange.signal.aborted) throw error;
        // The upstream broke off mid-stream: nothing can be retried once bytes went out.
        res.destroy(Object.assign(new Error('the upstream broke off mid-stream'), { code: 'upstream_stream_error' }));
        return;
      }
      res.end();
      return;
    }
    throw new HttpError(502, `Bad gateway: ${lastError}.`, { type: 'upstream_error' });
  }

  /**
   * One completion, from arrival to the end of its response; the exchange records how it ended.
   * @param {IncomingMessage} req
   * @param {ServerResponse} res
   * @param {string} path
   * @param {boolean} chat
   */
  async function completion(req, res, path, chat) {
    // Only a request that passed the key check names attribute values: unauthenticated clients must not take the value slots.
    let authorized = apiKeyOk === undefined;
    const { read } = attributes;
    /** @type {import('@inferwatch/http').RequestAttributesOf | undefined} */
    const readAttributes = read && ((r) => (authorized ? read(r) : undefined));
    const exchange = openExchange(llm, req, res, { operation: chat ? 'chat' : 'text_completion', ...limits, attributes: readAttributes });
    inFlight++;
    /** @type {import('./limiter.mjs').Slot | undefined} */
    let slot;
    res.once('close', () => {
      inFlight--;
      slot?.release();
    });
    try {
      if (apiKeyOk && !apiKeyOk(req)) throw INVALID_API_KEY;
      authorized = true;
      const { value, raw } = await exchange.readJson();
      const body = validate(value, chat);
      exchange.setModel(body.model);
      if (!(await catalog.knows(body.model, exchange.signal))) {
        throw new HttpError(404, `The model \`${body.model.slice(0, 256)}\` does not exist or you do not have access to it.`, { code: 'model_not_found', param: 'model' });
      }
      slot = await limiter.acquire(exchange.signal);
      exchange.handle()?.scheduled();
      await forward(path, raw, body.model, exchange, res);
    } catch (error) {
      if (exchange.timedOut) exchange.sendError(new HttpError(504, `The gateway did not finish within ${timeoutMs} ms.`, { type: 'timeout_error', code: 'timeout' }));
      // Closed before it finished: the exchange recorded it already.
      else if (exchange.signal.aborted) return;
      else if (error instanceof QueueFullError) exchange.sendError(new HttpError(429, 'The gateway is at capacity; retry shortly.', { type: 'rate_limit_error' }), { 'retry-after': '1' });
      else if (error instanceof HttpError) exchange.sendError(error);
      else exchange.sendError(new HttpError(500, 'The gateway failed.'));
    } finally {
      slot?.release();
    }
  }

  const headersTimeoutMs = options.headersTimeoutMs ?? 20_000;
  // Node checks its header and request timeouts every connectionsCheckingInterval (30 s by default): often enough to keep the short ones.
  const server = createServer({ connectionsCheckingInterval: Math.min(1000, headersTimeoutMs / 2) }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/health') return sendJson(res, 200, { status: 'ok', inFlight, queued: limiter.queue.length, upstreams: upstreams.urls });
    if (req.method === 'GET' && path === '/metrics') {
      if (metricsTokenOk && !metricsTokenOk(req)) return sendError(res, INVALID_METRICS_TOKEN, { 'www-authenticate': 'Bearer' });
      return telemetry ? telemetry.metricsHandler(req, res) : sendError(res, new HttpError(404, 'metrics are off', { type: 'not_found_error' }));
    }
    // The page checks the same token itself (a browser cannot send a header on its first load: `?token=` once).
    if (req.method === 'GET' && (path === '/dashboard' || path.startsWith('/dashboard/'))) {
      return telemetry ? telemetry.dashboardHandler(req, res) : sendError(res, new HttpError(404, 'metrics are off', { type: 'not_found_error' }));
    }
    if (req.method === 'POST' && path === '/v1/chat/completions') return void completion(req, res, path, true);
    if (req.method === 'POST' && path === '/v1/completions') return void completion(req, res, path, false);
    if (apiKeyOk && path.startsWith('/v1/') && !apiKeyOk(req)) return sendError(res, INVALID_API_KEY, { 'www-authenticate': 'Bearer' });
    if (req.method === 'GET' && path === '/v1/models') return void models(res);
    sendError(res, new HttpError(404, `No route for ${req.method} ${path.slice(0, 256)}.`, { type: 'not_found_error' }));
  });
  server.keepAliveTimeout = 65_000;
  // Headers must arrive within headersTimeoutMs; the body has its own timeout (a counted 408), and
  // Node's request timeout only backs both up.
  server.headersTimeout = headersTimeoutMs;
  server.requestTimeout = server.headersTimeout + limits.bodyTimeoutMs + 5_000;
  try {
    await /** @type {Promise<void>} */ (new Promise((resolve, reject) => server.once('error', reject).listen(options.port ?? 8000, options.host ?? '127.0.0.1', resolve)));
  } catch (error) {
    catalog.stop();
    bridge?.stop();
    await telemetry?.shutdown();
    throw error;
  }

  return {
    url: `http://${options.host ?? '127.0.0.1'}:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`,
    server,
    llm,
    inFlight: () => inFlight,
    /** The upstreams, without credentials. */
    upstreams: upstreams.urls,
    /** Stops accepting, lets in-flight requests finish (up to drainMs), flushes the exporters. */
    async close(drainMs = 30_000) {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeIdleConnections();
      const deadline = Date.now() + drainMs;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      server.closeAllConnections();
      await closed;
      catalog.stop();
      bridge?.stop();
      await telemetry?.shutdown();
    },
  };
}
