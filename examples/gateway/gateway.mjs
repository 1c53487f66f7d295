// The gateway: an OpenAI-compatible proxy that records every request's lifecycle with @inferwatch/sdk.
import { createServer } from 'node:http';
import { createLlmMetrics, startMetrics, tapResponse, responseFormat } from '@inferwatch/sdk';
import { EngineBridge } from './bridge.mjs';
import { Limiter, QueueFullError } from './limiter.mjs';
import { Upstreams } from './upstreams.mjs';
import { RequestError, validate } from './validate.mjs';

const MAX_BODY_BYTES = 10 * 1024 * 1024;
// Finer than the GenAI advice (steps of about 20 %), so quantiles estimated from the histograms
// land within a few percent of what clients measure.
const FINE_SECONDS = Array.from({ length: 60 }, (_, i) => Number((0.001 * 1.2 ** i).toPrecision(3))).filter((v) => v <= 120);

/** Stands in for a request handle when instrumentation is off (the benchmark's baseline). */
const NOOP_HANDLE = new Proxy({}, { get: () => () => {} });

function sendJson(res, status, body, headers = {}) {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(typeof body === 'string' ? body : JSON.stringify(body));
}

const errorJson = (status, message, type) => new RequestError(status, message, null, type).body();

/** The model a rejected body names, for the request's attributes; `unknown` when it names none. */
function modelIn(raw) {
  try {
    const model = JSON.parse(raw)?.model;
    return typeof model === 'string' && model !== '' ? model : 'unknown';
  } catch {
    return 'unknown';
  }
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new RequestError(413, `The request body is over ${MAX_BODY_BYTES} bytes.`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Starts the gateway. Options: upstreams (URLs), routes ({ model: [URLs] }), port, host,
 * maxConcurrency, maxQueue, timeoutMs, bridgeIntervalMs, instrument (false: no SDK, for baselines),
 * logIntervalMs, gpu, metricsToken (protects /dashboard). Resolves to { url, server, llm, close() }.
 */
export async function startGateway(options) {
  const upstreams = new Upstreams(options.upstreams ?? [], options.routes ?? {});
  if (upstreams.urls.length === 0) throw new Error('the gateway needs at least one upstream');
  const limiter = new Limiter(options.maxConcurrency ?? 64, options.maxQueue ?? 256);
  const timeoutMs = options.timeoutMs ?? 300_000;
  const instrument = options.instrument !== false;

  const llm = instrument
    ? createLlmMetrics({
        provider: 'inferwatch-gateway',
        log: options.logIntervalMs === 0 ? false : { intervalMs: options.logIntervalMs ?? 10_000, sink: (line) => console.log(`INFO gateway] ${line}`) },
        buckets: Object.fromEntries(
          ['gen_ai.server.request.duration', 'gen_ai.server.time_to_first_token', 'gen_ai.server.time_per_output_token', 'inferwatch.request.inter_token_latency'].map((n) => [n, FINE_SECONDS]),
        ),
      })
    : undefined;
  const telemetry = instrument ? startMetrics({ serviceName: 'inferwatch-gateway', llm, gpu: options.gpu ?? true, registerGlobal: false, dashboard: { token: options.metricsToken } }) : undefined;
  if (telemetry) {
    const meter = telemetry.meterProvider.getMeter('inferwatch-gateway');
    meter.createObservableGauge('inferwatch.gateway.queue.size', { unit: '{request}', description: 'Requests waiting for a slot in the gateway.' }).addCallback((r) => r.observe(limiter.queue.length));
    meter.createObservableGauge('inferwatch.gateway.active', { unit: '{request}', description: 'Requests holding a gateway slot (forwarded upstream).' }).addCallback((r) => r.observe(limiter.active));
  }
  const bridge = instrument && options.bridgeIntervalMs !== 0 ? new EngineBridge(llm, upstreams.urls, { intervalMs: options.bridgeIntervalMs ?? 5000 }) : undefined;
  let inFlight = 0;

  async function models(res) {
    const seen = new Map();
    await Promise.all(
      upstreams.urls.map(async (url) => {
        try {
          const list = await (await fetch(`${url}/v1/models`, { signal: AbortSignal.timeout(2000) })).json();
          for (const m of list.data ?? []) if (!seen.has(m.id)) seen.set(m.id, m);
        } catch {
          // An upstream that does not answer lists nothing.
        }
      }),
    );
    for (const id of Object.keys(upstreams.routes)) if (!seen.has(id)) seen.set(id, { id, object: 'model', created: 0, owned_by: 'inferwatch-gateway' });
    sendJson(res, 200, { object: 'list', data: [...seen.values()] });
  }

  /** Forwards to each candidate in turn until one answers below 500; streams its answer back through the tap. */
  async function forward(path, raw, model, handle, res, signal) {
    let lastError = 'no upstream answered';
    for (const url of upstreams.candidates(model)) {
      let upstream;
      try {
        upstream = await fetch(`${url}${path}`, { method: 'POST', body: raw, headers: { 'content-type': 'application/json' }, signal });
      } catch (error) {
        if (signal.aborted) throw error;
        lastError = `${url} is unreachable`;
        continue;
      }
      if (upstream.status >= 500) {
        await upstream.body?.cancel();
        lastError = `${url} answered ${upstream.status}`;
        continue;
      }
      const contentType = upstream.headers.get('content-type') ?? 'application/json';
      res.writeHead(upstream.status, { 'content-type': contentType, 'cache-control': 'no-cache' });
      const tap = instrument && upstream.status < 400 ? tapResponse(handle, { format: responseFormat(contentType) }) : undefined;
      try {
        for await (const chunk of upstream.body) {
          tap?.write(chunk);
          if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
        }
      } catch (error) {
        if (signal.aborted) throw error;
        // The upstream broke off mid-stream: nothing can be retried once bytes went out.
        tap?.fail({ code: 'upstream_stream_error' });
        res.destroy();
        return;
      }
      res.end();
      if (tap) tap.finish();
      else handle.fail({ code: String(upstream.status) });
      return;
    }
    sendJson(res, 502, errorJson(502, `Bad gateway: ${lastError}.`, 'upstream_error'));
    handle.fail({ code: '502' });
  }

  async function completion(req, res, path, chat) {
    const arrival = llm?.now();
    inFlight++;
    let handle = NOOP_HANDLE;
    const start = (model) => (instrument ? llm.startRequest({ model, operation: chat ? 'chat' : 'text_completion', at: arrival }) : NOOP_HANDLE);
    const clientGone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) clientGone.abort(new Error('client closed the connection'));
    });
    let queued = false;
    try {
      let raw;
      let body;
      try {
        raw = await readBody(req);
        body = validate(raw, chat);
      } catch (error) {
        if (!(error instanceof RequestError)) throw error;
        handle = start(modelIn(raw));
        sendJson(res, error.status, error.body());
        handle.fail({ code: String(error.status) });
        return;
      }
      handle = start(body.model);
      try {
        queued = true;
        await limiter.acquire(clientGone.signal);
      } catch (error) {
        queued = false;
        if (!(error instanceof QueueFullError)) return handle.abort();
        sendJson(res, 429, errorJson(429, 'The gateway is at capacity; retry shortly.', 'rate_limit_error'), { 'retry-after': '1' });
        return handle.fail({ code: '429' });
      }
      handle.scheduled();
      const timeout = AbortSignal.timeout(timeoutMs);
      try {
        await forward(path, raw, body.model, handle, res, AbortSignal.any([clientGone.signal, timeout]));
      } catch (error) {
        if (clientGone.signal.aborted) return handle.abort();
        if (timeout.aborted) {
          sendJson(res, 504, errorJson(504, `The upstream did not finish within ${timeoutMs} ms.`, 'timeout_error'));
          return handle.fail({ code: '504' });
        }
        throw error;
      }
    } catch (error) {
      sendJson(res, 500, errorJson(500, 'The gateway failed.', 'server_error'));
      handle.fail(error);
    } finally {
      if (queued) limiter.release();
      inFlight--;
    }
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/health') return sendJson(res, 200, { status: 'ok', inFlight, queued: limiter.queue.length, upstreams: upstreams.urls });
    if (req.method === 'GET' && path === '/metrics') return telemetry ? telemetry.metricsHandler(req, res) : sendJson(res, 404, errorJson(404, 'metrics are off', 'not_found_error'));
    if (req.method === 'GET' && (path === '/dashboard' || path.startsWith('/dashboard/'))) return telemetry ? telemetry.dashboardHandler(req, res) : sendJson(res, 404, errorJson(404, 'metrics are off', 'not_found_error'));
    if (req.method === 'GET' && path === '/v1/models') return void models(res);
    if (req.method === 'POST' && path === '/v1/chat/completions') return void completion(req, res, path, true);
    if (req.method === 'POST' && path === '/v1/completions') return void completion(req, res, path, false);
    sendJson(res, 404, errorJson(404, `No route for ${req.method} ${path}.`, 'not_found_error'));
  });
  server.keepAliveTimeout = 65_000;
  await new Promise((resolve, reject) => server.once('error', reject).listen(options.port ?? 8000, options.host ?? '127.0.0.1', resolve));

  return {
    url: `http://${options.host ?? '127.0.0.1'}:${server.address().port}`,
    server,
    llm,
    inFlight: () => inFlight,
    /** Stops accepting, lets in-flight requests finish (up to drainMs), flushes the exporters. */
    async close(drainMs = 30_000) {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeIdleConnections();
      const deadline = Date.now() + drainMs;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      server.closeAllConnections();
      await closed;
      bridge?.stop();
      await telemetry?.shutdown();
    },
  };
}
