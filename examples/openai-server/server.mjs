// The OpenAI-compatible HTTP layer the example engines share: /v1/completions and /v1/chat/completions
// (streamed or not, with usage), /v1/models, /health and /metrics. An engine supplies `generate`, which
// gets a validated request and a `reply` to write tokens and the end to; every request ends exactly once.
import { createServer } from 'node:http';
import { chunkOf, completionBody, errorBody, usageChunk } from './wire.mjs';

export { errorBody } from './wire.mjs';
export { stopScanner } from './stops.mjs';

/** @typedef {import('node:http').IncomingMessage} IncomingMessage */
/** @typedef {import('node:http').ServerResponse} ServerResponse */
/** @typedef {import('./wire.mjs').ResponseContext} ResponseContext */
/** @typedef {import('./wire.mjs').Usage} Usage */

/**
 * A chat message as sent: the server checks only that `messages` is an array, so a field may hold anything.
 * @typedef {{ role?: unknown, content?: unknown } | null} ChatMessage
 */

/**
 * The fields the server checked (`invalid`), common to both kinds of request; the rest are as the client sent them.
 * @typedef {object} CommonBody
 * @property {unknown} [model]
 * @property {number | null} [max_tokens]  a positive integer
 * @property {boolean} [stream]
 * @property {{ include_usage?: unknown } | null} [stream_options]  not checked: only its include_usage is read
 * @property {number | null} [n]  1
 * @property {string | string[] | null} [stop]
 * @property {unknown} [temperature]
 * @property {unknown} [top_p]
 * @property {unknown} [seed]
 */
/** @typedef {CommonBody & { messages: ChatMessage[] }} ChatBody  a /v1/chat/completions body */
/** @typedef {CommonBody & { prompt: string | string[] }} TextBody  a /v1/completions body */

/** @typedef {{ chat: true, body: ChatBody } | { chat: false, body: TextBody }} BodyOfKind  a body, and which kind it is */

/**
 * What `generate` gets besides the body.
 * @typedef {object} RequestInfo
 * @property {ResponseContext} ctx
 * @property {number | undefined} arrival  `options.now()` when the request arrived
 * @property {import('node:http').IncomingHttpHeaders} headers  the request's (for its trace context)
 * @property {AbortSignal} signal  aborts when the client leaves first
 * @property {string[]} stop  the request's stop sequences, empty when it has none
 */
/** @typedef {RequestInfo & BodyOfKind} GenerateRequest */

/** @typedef {ReturnType<typeof replyTo>} Reply */

/**
 * @typedef {object} OpenAIServerOptions
 * @property {string} model  the served name
 * @property {string} [ownedBy]
 * @property {number} [maxModelLen]
 * @property {string} [idPrefix]  in response ids (default `iw`)
 * @property {() => number} [now]  the clock `arrival` is read on
 * @property {number} [maxBodyBytes]
 * @property {(req: IncomingMessage, res: ServerResponse) => void} metricsHandler
 * @property {(req: IncomingMessage, res: ServerResponse) => void} [dashboardHandler]
 * @property {() => object} [health]  extra /health fields
 * @property {{ stop?: boolean }} [supports]
 * @property {(request: GenerateRequest, reply: Reply) => unknown} generate  awaited; what it resolves to is ignored
 */

/** Request bodies larger than this are refused with 413 before they are parsed. */
export const DEFAULT_MAX_BODY_BYTES = 1 << 20;

class BodyTooLarge extends Error {}

/**
 * @param {IncomingMessage} req
 * @param {number} maxBytes
 */
async function readBody(req, maxBytes) {
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes) throw new BodyTooLarge();
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > maxBytes) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

// OpenAI's own limit: a request names up to four stop sequences.
const MAX_STOP_SEQUENCES = 4;

/**
 * `stop` as a list (none: empty), or undefined when it is not a string or up to four non-empty strings.
 * @param {unknown} stop
 * @returns {string[] | undefined}
 */
function stopSequences(stop) {
  if (stop === undefined || stop === null) return [];
  const list = typeof stop === 'string' ? [stop] : stop;
  if (!Array.isArray(list) || list.length > MAX_STOP_SEQUENCES || !list.every((s) => typeof s === 'string' && s.length > 0)) return undefined;
  return list;
}

/**
 * The fields every engine needs, checked: undefined when the body is acceptable. A field the engine
 * does not implement is refused by name, as vLLM does, rather than silently ignored: `n` other than 1
 * (each engine generates one choice per request), and `stop` unless the engine declares it.
 * @param {unknown} json
 * @param {boolean} chat
 * @param {{ stop: boolean }} supports
 * @returns {[message: string, param: string | null] | undefined}
 */
function invalid(json, chat, supports) {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return ['the body must be a JSON object', null];
  const body = /** @type {Record<string, unknown>} */ (json);
  if (chat && !Array.isArray(body.messages)) return ['`messages` must be an array', 'messages'];
  if (!chat && typeof body.prompt !== 'string' && !(Array.isArray(body.prompt) && body.prompt.every((p) => typeof p === 'string'))) {
    return ['`prompt` must be a string or an array of strings', 'prompt'];
  }
  if (body.max_tokens !== undefined && body.max_tokens !== null && !(typeof body.max_tokens === 'number' && Number.isInteger(body.max_tokens) && body.max_tokens > 0)) {
    return ['`max_tokens` must be a positive integer', 'max_tokens'];
  }
  if (body.stream !== undefined && typeof body.stream !== 'boolean') return ['`stream` must be a boolean', 'stream'];
  if (body.n !== undefined && body.n !== null) {
    if (!(typeof body.n === 'number' && Number.isInteger(body.n) && body.n > 0)) return ['`n` must be a positive integer', 'n'];
    if (body.n !== 1) return [`\`n\` must be 1: this engine generates one choice per request (got ${body.n})`, 'n'];
  }
  const stop = stopSequences(body.stop);
  if (stop === undefined) return [`\`stop\` must be a non-empty string or an array of at most ${MAX_STOP_SEQUENCES} non-empty strings`, 'stop'];
  if (stop.length > 0 && !supports.stop) return ['`stop` is not supported by this engine', 'stop'];
  return undefined;
}

/**
 * The reply to one request. Streamed: `open()` sends the SSE headers (otherwise the first token does),
 * `token(text)` writes a chunk, `end` writes the finish chunk, the usage chunk if asked, and [DONE].
 * Not streamed: tokens collect into one JSON body sent by `end`. `error` answers with an OpenAI error
 * body, or closes the stream if it has begun. After the first `end`/`error`, or once the client has
 * left, everything is ignored.
 * @param {ServerResponse} res
 * @param {ResponseContext} ctx
 * @param {CommonBody} body
 */
function replyTo(res, ctx, body) {
  const stream = body.stream === true;
  let text = '';
  let first = true;
  let done = false;
  /**
   * @param {number} status
   * @param {string} payload
   * @param {Record<string, string>} [headers]
   */
  const send = (status, payload, headers = {}) => res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(payload);
  const open = () => {
    if (stream && !res.headersSent) {
      // Sent at once, as vLLM's streaming responses are: the client learns the request was accepted before it waits for a token.
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.flushHeaders();
    }
  };
  return {
    get done() {
      return done;
    },
    open,
    /** @param {string} piece */
    token(piece) {
      if (done) return;
      if (!stream) {
        text += piece;
        return;
      }
      open();
      res.write(chunkOf(ctx, piece, null, first));
      first = false;
    },
    /**
     * @param {string} finishReason
     * @param {Usage} usage
     */
    end(finishReason, usage) {
      if (done) return;
      done = true;
      if (!stream) return send(200, completionBody(ctx, text, finishReason, usage));
      open();
      res.write(chunkOf(ctx, null, finishReason, first));
      if (body.stream_options?.include_usage) res.write(usageChunk(ctx, usage));
      res.end('data: [DONE]\n\n');
    },
    /** The client left: there is nobody to answer. */
    abandon() {
      done = true;
    },
    /**
     * @param {number} status
     * @param {string} message
     * @param {string | null} [param]
     * @param {Record<string, string>} [headers]
     */
    error(status, message, param = null, headers = {}) {
      if (done) return;
      done = true;
      if (!res.headersSent) return send(status, errorBody(status, message, param), headers);
      res.end(`data: ${errorBody(status, message, param)}\n\n`);
    },
  };
}

/**
 * options: `model` (served name), `ownedBy`, `maxModelLen`, `metricsHandler` and `dashboardHandler`
 * (the SDK's), `health()` (extra /health fields), `maxBodyBytes`, `supports` (`{ stop: true }` for an
 * engine that honours stop sequences; without it a request with `stop` gets 400), and
 * `generate({ body, chat, ctx, arrival, headers, signal, stop }, reply)`: `headers` are the request's (for
 * its trace context); `signal` aborts when the client leaves first; `stop` is the request's stop
 * sequences as a list, empty when it has none.
 * @param {OpenAIServerOptions} options
 */
export function createOpenAIServer(options) {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const supports = { stop: false, ...options.supports };
  /**
   * @param {ServerResponse} res
   * @param {number} status
   * @param {unknown} payload
   */
  const json = (res, status, payload) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
  let nextId = 0;

  /**
   * @param {IncomingMessage} req
   * @param {ServerResponse} res
   * @param {boolean} chat
   */
  async function completion(req, res, chat) {
    const arrival = options.now?.();
    /** @type {unknown} */
    let parsed;
    try {
      parsed = JSON.parse(await readBody(req, maxBodyBytes));
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        res.setHeader('connection', 'close');
        return res.writeHead(413, { 'content-type': 'application/json' }).end(errorBody(413, `the body exceeds ${maxBodyBytes} bytes`));
      }
      return res.writeHead(400, { 'content-type': 'application/json' }).end(errorBody(400, 'the body is not valid JSON'));
    }
    const problem = invalid(parsed, chat, supports);
    if (problem) return res.writeHead(400, { 'content-type': 'application/json' }).end(errorBody(400, ...problem));
    // Checked: it is the body of its kind, with the fields `invalid` checked of the types they have there.
    const body = /** @type {ChatBody | TextBody} */ (parsed);
    const ctx = { id: `${chat ? 'chatcmpl' : 'cmpl'}-${options.idPrefix ?? 'iw'}-${++nextId}`, model: typeof body.model === 'string' ? body.model : options.model, created: Math.floor(Date.now() / 1000), chat };
    const reply = replyTo(res, ctx, body);
    const left = new AbortController();
    res.once('close', () => {
      if (res.writableFinished) return;
      reply.abandon();
      left.abort(new Error('the client closed the connection'));
    });
    try {
      const info = { ctx, arrival, headers: req.headers, signal: left.signal, stop: stopSequences(body.stop) ?? [] };
      await options.generate(chat ? { ...info, chat, body: /** @type {ChatBody} */ (body) } : { ...info, chat, body: /** @type {TextBody} */ (body) }, reply);
    } catch (error) {
      reply.error(500, 'the engine failed');
      // Whatever was thrown: an Error, or anything else.
      const thrown = /** @type {{ name?: unknown, message?: unknown } | null | undefined} */ (error);
      if (!left.signal.aborted) console.error(`ERROR server] ${thrown?.name ?? 'Error'}: ${thrown?.message ?? error}`);
    }
    // A generator that returned without answering still answers: every request ends exactly once.
    if (!reply.done) reply.error(500, 'the engine gave no answer');
  }

  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') return options.metricsHandler(req, res);
    if (req.method === 'GET' && options.dashboardHandler && (path === '/dashboard' || path.startsWith('/dashboard/'))) return options.dashboardHandler(req, res);
    if (req.method === 'GET' && path === '/health') return json(res, 200, { status: 'ok', ...options.health?.() });
    if (req.method === 'GET' && path === '/v1/models') {
      return json(res, 200, { object: 'list', data: [{ id: options.model, object: 'model', created: 0, owned_by: options.ownedBy, max_model_len: options.maxModelLen }] });
    }
    if (req.method === 'POST' && path === '/v1/chat/completions') return void completion(req, res, true);
    if (req.method === 'POST' && path === '/v1/completions') return void completion(req, res, false);
    res.writeHead(404, { 'content-type': 'application/json' }).end(errorBody(404, `no route for ${req.method} ${path}`));
  });
}
