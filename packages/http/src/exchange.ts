// One HTTP exchange's fate, from the moment its headers arrive to the moment its response closes:
// the request is recorded exactly once whatever happens in between (a status, a finished stream, a
// client that leaves before, during or after the body or while a write is backed up, a response the
// server destroys, a deadline). The framework wrappers and the example gateway all stand on this.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extractTraceContext, type LlmMetrics, type RequestAttributeValues, type RequestHandle } from '@inferwatch/sdk';
import { noticeOnce } from '@inferwatch/sdk/internal';
import { HttpError, readBody, withinDepth } from './json-body.js';
import { Outcome } from './outcome.js';

export interface HttpInstrumentationOptions {
  /**
   * Which requests are LLM calls (`path` without its query). Default: POSTs to the OpenAI-style inference routes,
   * `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `/v1/responses` and the same without `/v1`
   * (`isInferenceRoute`); everything else (health checks, admin routes, webhooks) is not recorded.
   */
  include?: (method: string, path: string) => boolean;
  /** The model when the JSON body names none (e.g. from a path segment or a header). */
  model?: (req: IncomingMessage) => string | undefined;
  /** Most bytes of a request body scanned for its `model`. Default 1 MiB; the handler always gets the whole body. */
  maxScanBytes?: number;
  /** The request's values of the attributes declared in `createLlmMetrics({ attributes })`, e.g. `(req) => ({ tenant: req.headers['x-tenant'] })`. */
  attributes?: RequestAttributesOf;
}

/** Reads a request's attribute values (see `createLlmMetrics({ attributes })`); a header names none when it is absent. */
export type RequestAttributesOf = (req: IncomingMessage) => Readonly<Record<string, string | string[] | undefined>> | undefined;

export interface ExchangeOptions {
  /** `gen_ai.operation.name`. Default: from the path (`chat`, `text_completion`, `embeddings`). */
  operation?: string;
  /** The whole exchange's deadline, from arrival: `signal` aborts when it passes. Default: none. */
  timeoutMs?: number;
  /** Largest body `readJson()` accepts (413 past it). Default 10 MiB. */
  maxBodyBytes?: number;
  /** Deepest JSON nesting `readJson()` accepts (400 past it), checked before parsing. Default 64. */
  maxJsonDepth?: number;
  /** How long `readJson()` waits for the whole body (408 past it). Default 30 s. */
  bodyTimeoutMs?: number;
  /** The request's values of the attributes declared in `createLlmMetrics({ attributes })`, read once when it is first recorded. */
  attributes?: RequestAttributesOf;
}

/** An exchange a server drives itself (see `openExchange`). */
export interface Exchange {
  /** When the request arrived (its headers), on the recorder's clock. */
  readonly arrival: number;
  /** Aborts when the response closes unfinished (the client left, or it was destroyed) or the deadline passes. */
  readonly signal: AbortSignal;
  /** Whether `signal` aborted because the deadline passed. */
  readonly timedOut: boolean;
  /** Names the request's model; takes effect if called before the request is first recorded. */
  setModel(model: string): void;
  /** The request's handle (started on first use), for `scheduled()` and the like. */
  handle(): RequestHandle | undefined;
  /** The body read within the byte, depth and time limits and parsed once: its value and its bytes. Rejects with an `HttpError` (or `signal.reason`). */
  readJson(): Promise<{ value: unknown; raw: Buffer }>;
  /** Writes a piece of the response; resolves once it may write again, rejects when `signal` aborts first. */
  write(chunk: Uint8Array | string): Promise<void>;
  /** Answers with an OpenAI-style error body, or destroys the response if its headers already went out. */
  sendError(error: HttpError, headers?: Record<string, string>): void;
}

const handles = new WeakMap<IncomingMessage, RequestHandle>();
/** Requests some wrapper already observes: one mounted twice (an app and its sub-app) records them once. */
const observed = new WeakSet<IncomingMessage>();

/** Socket errors that mean the client went away. */
const CLIENT_ERRORS = new Set<unknown>(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/**
 * The handle of a request being recorded, once its body has been read: a server that queues can
 * call `scheduled()` (and `preempted()` / `resumed()`) on it. Undefined for requests not recorded.
 */
export function requestHandle(req: IncomingMessage): RequestHandle | undefined {
  return handles.get(req);
}

/** `gen_ai.operation.name` from an OpenAI-style path. */
export function operationFor(path: string): string | undefined {
  if (path.includes('/chat/completions') || path.endsWith('/responses')) return 'chat';
  if (path.includes('/completions')) return 'text_completion';
  if (path.includes('/embeddings')) return 'embeddings';
  return undefined;
}

const INFERENCE_ROUTES: ReadonlySet<string> = new Set(
  ['/chat/completions', '/completions', '/embeddings', '/responses'].flatMap((route) => [route, `/v1${route}`]),
);

/** The default `include`: a POST to an OpenAI-style inference route (`/v1/chat/completions`, `/completions`, …). */
export function isInferenceRoute(method: string, path: string): boolean {
  return method === 'POST' && INFERENCE_ROUTES.has(path.replace(/\/+$/, ''));
}

/** Whether the wrapper records this request: `include` (default `isInferenceRoute`) on the path without its query; one that throws says no. */
export function included(include: ((method: string, path: string) => boolean) | undefined, method: string, url: string): boolean {
  try {
    return (include ?? isInferenceRoute)(method, url.split('?')[0]);
  } catch {
    return false;
  }
}

const MAX_MODEL_JSON_DEPTH = 64;

/** The model named in a JSON request body, if any; a body nested too deep is not parsed. */
export function modelIn(body: string): string | undefined {
  if (!withinDepth(body, MAX_MODEL_JSON_DEPTH)) return undefined;
  try {
    const model = (JSON.parse(body) as { model?: unknown } | null)?.model;
    return typeof model === 'string' ? model : undefined;
  } catch {
    return undefined;
  }
}

/** The caller's attribute values; a function that throws gives none (the host's bug must not lose the request). */
export function attributesOf<R>(read: ((req: R) => object | undefined) | undefined, req: R): RequestAttributeValues | undefined {
  if (read === undefined) return undefined;
  try {
    return read(req) as RequestAttributeValues | undefined;
  } catch {
    return undefined;
  }
}

type Chunk = string | Uint8Array;

/** The content type among writeHead's arguments: a headers object, or raw [name, value, ...] pairs. */
function contentTypeIn(args: unknown[]): string | undefined {
  for (const arg of args) {
    if (Array.isArray(arg)) {
      const flat = arg.flat() as unknown[];
      for (let i = 0; i + 1 < flat.length; i += 2) if (String(flat[i]).toLowerCase() === 'content-type') return String(flat[i + 1]);
    } else if (typeof arg === 'object' && arg !== null) {
      for (const [name, value] of Object.entries(arg)) if (name.toLowerCase() === 'content-type') return String(value);
    }
  }
  return undefined;
}

function asChunk(chunk: unknown, encoding: unknown): Chunk | undefined {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk !== 'string') return undefined;
  return typeof encoding === 'string' && encoding !== 'utf8' && encoding !== 'utf-8' ? Buffer.from(chunk, encoding as BufferEncoding) : chunk;
}

class HttpExchange implements Exchange {
  readonly arrival: number;
  timedOut = false;
  private readonly controller = new AbortController();
  private model: string | undefined;
  private started: RequestHandle | undefined;
  private readonly outcome = new Outcome(() => this.handle());
  private contentType: string | undefined;
  private clientGone = false;
  private readonly deadline: NodeJS.Timeout | undefined;
  /** Where the model comes from when none was set by the time the request is first recorded. */
  fallbackModel: (() => string | undefined) | undefined;

  constructor(
    private readonly llm: LlmMetrics | undefined,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly options: ExchangeOptions,
  ) {
    this.arrival = llm?.now() ?? 0;
    if (options.timeoutMs !== undefined && Number.isFinite(options.timeoutMs)) {
      this.deadline = setTimeout(() => {
        this.timedOut = true;
        this.controller.abort(Object.assign(new Error(`the exchange passed its ${options.timeoutMs} ms deadline`), { code: 'timeout' }));
      }, options.timeoutMs);
    }
    this.watchResponse();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  setModel(model: string): void {
    this.model ??= model;
  }

  handle(): RequestHandle | undefined {
    if (this.started !== undefined || this.llm === undefined) return this.started;
    const path = this.req.url ?? '/';
    if (this.model === undefined) {
      try {
        this.model = this.fallbackModel?.();
      } catch {
        this.model = undefined;
      }
    }
    this.started = this.llm.startRequest({
      model: this.model ?? 'unknown',
      operation: this.options.operation ?? operationFor(path),
      at: this.arrival,
      context: extractTraceContext(this.req.headers),
      attributes: attributesOf(this.options.attributes, this.req),
    });
    handles.set(this.req, this.started);
    return this.started;
  }

  async readJson(): Promise<{ value: unknown; raw: Buffer }> {
    const limits = {
      maxBytes: this.options.maxBodyBytes ?? 10 * 1024 * 1024,
      maxDepth: this.options.maxJsonDepth ?? 64,
      timeoutMs: this.options.bodyTimeoutMs ?? 30_000,
    };
    const raw = await readBody(this.req, limits, this.signal);
    try {
      return { value: JSON.parse(raw.toString('utf8')), raw };
    } catch {
      throw new HttpError(400, 'We could not parse the JSON body of your request. Send valid JSON.');
    }
  }

  write(chunk: Uint8Array | string): Promise<void> {
    const signal = this.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.res.write(chunk)) return Promise.resolve();
    // A backed-up write: wait for room, for the response to close, or for the deadline, whichever comes first.
    return new Promise((resolve, reject) => {
      const done = (error?: unknown) => {
        this.res.off('drain', onDrain);
        signal.removeEventListener('abort', onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onDrain = () => done();
      const onAbort = () => done(signal.reason);
      this.res.once('drain', onDrain);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  sendError(error: HttpError, headers: Record<string, string> = {}): void {
    const res = this.res;
    if (res.headersSent || res.destroyed) return void res.destroy(Object.assign(new Error(error.message), { code: error.code ?? String(error.status) }));
    if (this.req.complete) return void res.writeHead(error.status, { 'content-type': 'application/json', ...headers }).end(error.body());
    // Node would read a body left unread (rejected before or while reading it) to its end, to reuse the connection: cut it once the answer is out.
    res.once('finish', () => this.req.destroy());
    res.writeHead(error.status, { 'content-type': 'application/json', connection: 'close', ...headers }).end(error.body());
  }

  /** The outcome sees every byte written; `finish` and `close` settle the request, exactly once between them. */
  private watchResponse(): void {
    const res = this.res;
    const contentType = () => this.contentType ?? String(res.getHeader('content-type') ?? '');
    const observe = (chunk: unknown, encoding: unknown) => {
      const data = asChunk(chunk, encoding);
      if (data !== undefined) this.outcome.write(res.statusCode, contentType, data);
    };
    // Headers given to writeHead never reach getHeader(): read them on the way.
    const writeHead = res.writeHead;
    const self = this;
    res.writeHead = function observedWriteHead(this: ServerResponse, ...args: unknown[]) {
      self.contentType = contentTypeIn(args.slice(1)) ?? self.contentType;
      return Reflect.apply(writeHead, this, args) as ServerResponse;
    } as typeof res.writeHead;
    const write = res.write;
    res.write = function observedWrite(this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
      observe(chunk, rest[0]);
      return Reflect.apply(write, this, [chunk, ...rest]) as boolean;
    } as typeof res.write;
    const end = res.end;
    res.end = function observedEnd(this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
      if (chunk !== undefined && typeof chunk !== 'function') observe(chunk, rest[0]);
      return Reflect.apply(end, this, [chunk, ...rest]) as ServerResponse;
    } as typeof res.end;

    // Who ended an unfinished response: the client (its side of the socket ended or reset) or the server.
    const socket = this.req.socket;
    const onClientGone = () => (this.clientGone = true);
    const onSocketError = (error: { code?: unknown }) => {
      if (CLIENT_ERRORS.has(error?.code)) this.clientGone = true;
    };
    socket.once('end', onClientGone);
    socket.once('error', onSocketError);

    res.once('finish', () => this.outcome.finish(res.statusCode));
    res.once('close', () => {
      clearTimeout(this.deadline);
      socket.off('end', onClientGone);
      socket.off('error', onSocketError);
      // Only `finish` says the response went out whole: `writableFinished` also holds for one destroyed
      // and then ended (what @hono/node-server does when the body stream it pipes fails midway).
      if (this.outcome.settled) return;
      this.controller.abort(Object.assign(new Error('the response closed before it finished'), { code: 'client_closed' }));
      // Unless the client left first (and nothing else broke it), the server destroyed the response: a failure.
      const errored = res.errored as { code?: unknown } | null;
      this.outcome.cut(this.clientGone && (errored === null || CLIENT_ERRORS.has(errored.code)), errored ?? undefined);
    });
  }
}

/**
 * Opens an exchange the server drives itself: call it as the request arrives (its headers), before
 * reading the body. It records the request on `llm` (nothing when `llm` is undefined): the model set
 * with `setModel`, the response bytes as they are written, the outcome from the status, an abort
 * when the client leaves first. Every wait it offers races the client's departure and the deadline.
 */
export function openExchange(llm: LlmMetrics | undefined, req: IncomingMessage, res: ServerResponse, options: ExchangeOptions = {}): Exchange {
  return new HttpExchange(llm, req, res, options);
}

/** Whether a body parser (or the app) read the body before the middleware saw it: no data will come. */
function bodyAlreadyRead(req: IncomingMessage): boolean {
  return (req as { body?: unknown }).body !== undefined || req.readableEnded;
}

/**
 * A body parser ran first: the model comes from what it parsed (`req.body`), and the host hears once
 * that the arrival time is the parser's end, not the request's.
 */
function observeParsed(llm: LlmMetrics, req: IncomingMessage, exchange: HttpExchange, maxBody: number): void {
  const model = modelOfParsed((req as { body?: unknown }).body, maxBody);
  if (model !== undefined) exchange.setModel(model);
  noticeOnce(
    llm,
    'http-body-read-first',
    'the request body was read before the inferwatch middleware (a body parser such as express.json() mounted first): the model comes from req.body, and arrival and queue times start after the body was parsed. Mount the middleware before the body parser.',
  );
  exchange.handle();
}

/** `model` of a parsed body: an object's, or read from a string or bytes as the raw body would be. */
function modelOfParsed(body: unknown, maxBody: number): string | undefined {
  try {
    if (typeof body === 'string') return body.length <= maxBody ? modelIn(body) : undefined;
    if (body instanceof Uint8Array) return body.length <= maxBody ? modelIn(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) : undefined;
    const model = typeof body === 'object' && body !== null ? (body as { model?: unknown }).model : undefined;
    return typeof model === 'string' ? model : undefined;
  } catch {
    // A body with a getter that throws names no model.
    return undefined;
  }
}

/**
 * Records one node:http exchange on `llm` passively, for a handler that reads the body itself: the
 * arrival now, the model from the JSON body as the handler reads it (observed, never consumed), the
 * rest as `openExchange` does.
 */
export function observeExchange(llm: LlmMetrics, req: IncomingMessage, res: ServerResponse, options: HttpInstrumentationOptions = {}): void {
  if (!included(options.include, req.method ?? 'GET', req.url ?? '/') || observed.has(req)) return;
  observed.add(req);
  const exchange = new HttpExchange(llm, req, res, { attributes: options.attributes });
  exchange.fallbackModel = () => options.model?.(req);
  const maxBody = options.maxScanBytes ?? 1024 * 1024;
  if (bodyAlreadyRead(req)) return observeParsed(llm, req, exchange, maxBody);
  const body: Buffer[] = [];
  let bodyBytes = 0;

  // Watch the body as the handler (or its body parser) reads it, by whatever means it reads.
  const emit = req.emit;
  req.emit = function observedEmit(this: IncomingMessage, event: string | symbol, ...args: unknown[]) {
    if (event === 'data' && bodyBytes <= maxBody) {
      const chunk = args[0];
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      bodyBytes += bytes.length;
      if (bodyBytes <= maxBody) body.push(bytes);
    } else if (event === 'end') {
      const model = bodyBytes <= maxBody ? modelIn(Buffer.concat(body).toString('utf8')) : undefined;
      body.length = 0;
      if (model !== undefined) exchange.setModel(model);
      exchange.handle();
    }
    return emit.call(this, event, ...args);
  } as typeof req.emit;
}
