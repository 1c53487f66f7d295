import type { IncomingMessage, ServerResponse } from 'node:http';
import { extractTraceContext, responseFormat, tapResponse, type LlmMetrics, type RequestHandle, type ResponseTap } from '@inferwatch/sdk';

export interface HttpInstrumentationOptions {
  /** Which requests are LLM calls. Default: every POST. */
  include?: (method: string, path: string) => boolean;
  /** The model when the JSON body names none (e.g. from a path segment or a header). */
  model?: (req: IncomingMessage) => string | undefined;
  /** Largest request body read for `model`. Default 1 MiB; the handler always gets the whole body. */
  maxBodyBytes?: number;
}

const handles = new WeakMap<IncomingMessage, RequestHandle>();

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
  if (path.includes('/chat/completions')) return 'chat';
  if (path.includes('/completions')) return 'text_completion';
  if (path.includes('/embeddings')) return 'embeddings';
  return undefined;
}

export const includeByDefault = (method: string) => method === 'POST';

/** The model named in a JSON request body, if any. */
export function modelIn(body: string): string | undefined {
  try {
    const model = (JSON.parse(body) as { model?: unknown } | null)?.model;
    return typeof model === 'string' ? model : undefined;
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

/**
 * Records one node:http exchange on `llm`: the arrival now, the model from the JSON body as the
 * handler reads it (observed, never consumed), tokens and usage from the response bytes as they are
 * written, the outcome from the status, an abort if the client leaves first.
 */
export function observeExchange(llm: LlmMetrics, req: IncomingMessage, res: ServerResponse, options: HttpInstrumentationOptions = {}): void {
  const path = req.url ?? '/';
  const method = req.method ?? 'GET';
  try {
    if (!(options.include ?? includeByDefault)(method, path)) return;
  } catch {
    return;
  }
  const arrival = llm.now();
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const body: Buffer[] = [];
  let bodyBytes = 0;
  let model: string | undefined;
  let handle: RequestHandle | undefined;
  let tap: ResponseTap | undefined;
  let failed = false;
  let contentType: string | undefined;
  let clientGone = false;

  const start = (): RequestHandle => {
    if (handle !== undefined) return handle;
    if (model === undefined) {
      try {
        model = options.model?.(req);
      } catch {
        model = undefined;
      }
    }
    // The request span continues the caller's trace (`traceparent`); a handler forwarding the request
    // injects `requestHandle(req).traceContext()` into its own outgoing headers.
    handle = llm.startRequest({ model: model ?? 'unknown', operation: operationFor(path), at: arrival, context: extractTraceContext(req.headers) });
    handles.set(req, handle);
    return handle;
  };

  // Watch the body as the handler (or its body parser) reads it, by whatever means it reads.
  const emit = req.emit;
  req.emit = function observedEmit(this: IncomingMessage, event: string | symbol, ...args: unknown[]) {
    if (event === 'data' && bodyBytes <= maxBody) {
      const chunk = args[0];
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      bodyBytes += bytes.length;
      if (bodyBytes <= maxBody) body.push(bytes);
    } else if (event === 'end' && handle === undefined) {
      if (bodyBytes <= maxBody) model = modelIn(Buffer.concat(body).toString('utf8'));
      start();
    }
    return emit.call(this, event, ...args);
  } as typeof req.emit;

  const observe = (chunk: unknown, encoding: unknown) => {
    const h = start();
    if (res.statusCode >= 400) return;
    tap ??= tapResponse(h, { format: responseFormat(contentType ?? String(res.getHeader('content-type') ?? '')) });
    const data = asChunk(chunk, encoding);
    if (data !== undefined) tap.write(data);
  };
  // Headers given to writeHead never reach getHeader(): read them on the way.
  const writeHead = res.writeHead;
  res.writeHead = function observedWriteHead(this: ServerResponse, ...args: unknown[]) {
    contentType = contentTypeIn(args.slice(1)) ?? contentType;
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
  const socket = req.socket;
  const onClientGone = () => (clientGone = true);
  const onSocketError = (error: { code?: unknown }) => {
    if (CLIENT_ERRORS.has(error?.code)) clientGone = true;
  };
  socket.once('end', onClientGone);
  socket.once('error', onSocketError);
  const forgetSocket = () => {
    socket.off('end', onClientGone);
    socket.off('error', onSocketError);
  };

  res.once('finish', () => {
    const h = start();
    if (res.statusCode >= 400) {
      failed = true;
      h.fail({ code: String(res.statusCode) });
    } else if (tap !== undefined) tap.finish();
    else h.end();
  });
  res.once('close', () => {
    forgetSocket();
    if (res.writableFinished || failed) return;
    const errored = res.errored as { code?: unknown } | null;
    if (clientGone && (errored === null || CLIENT_ERRORS.has(errored.code))) return tap !== undefined ? tap.abort() : start().abort();
    // The server destroyed the response (say, a broken upstream stream): a failure.
    const error = errored ?? { code: 'response_destroyed' };
    if (tap !== undefined) tap.fail(error);
    else start().fail(error);
  });
}
