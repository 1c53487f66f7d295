// Hono records through the same rules as every other wrapper: on @hono/node-server's node:http objects
// it is one more user of `observeExchange`; on a web-standard runtime (Bun, Deno, workers) the
// Response body and the request's abort signal feed the same `Outcome`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extractTraceContext, type LlmMetrics, type RequestAttributeValues, type RequestHandle } from '@inferwatch/sdk';
import { attributesOf, included, modelIn, observeExchange, operationFor } from './exchange.js';
import { Outcome } from './outcome.js';

interface HonoContextLike {
  req: { raw: Request; method: string; path: string };
  res: Response;
  /** What the server adapter passes along: `{ incoming, outgoing }` on @hono/node-server. */
  env?: unknown;
}

export interface HonoInstrumentationOptions {
  /** Which requests are LLM calls, as for the node:http wrappers. Default: POSTs to the OpenAI-style inference routes (`isInferenceRoute`). */
  include?: (method: string, path: string) => boolean;
  /** The model when the JSON body names none. */
  model?: (req: Request) => string | undefined;
  /** Most bytes of a request body scanned for its `model` (never more: the rest stays for the handler). Default 1 MiB. */
  maxScanBytes?: number;
  /** The request's values of the attributes declared in `createLlmMetrics({ attributes })`, e.g. `(req) => ({ tenant: req.headers.get('x-tenant') ?? undefined })`. */
  attributes?: (req: Request) => RequestAttributeValues | undefined;
}

/** Requests already recorded: a middleware mounted twice (an app and its sub-app) records them once. */
const observed = new WeakSet<Request>();

/**
 * @hono/node-server's HTTP/1 request and response, if that is what carries this request. Not HTTP/2's
 * compatibility objects: their streams share one socket, which cannot tell who ended a stream.
 */
function nodeObjects(env: unknown): { incoming: IncomingMessage; outgoing: ServerResponse } | undefined {
  if (typeof env !== 'object' || env === null) return undefined;
  const { incoming, outgoing } = env as { incoming?: Partial<IncomingMessage> & { stream?: unknown }; outgoing?: Partial<ServerResponse> };
  const http1 =
    typeof incoming?.emit === 'function' && typeof incoming.socket?.once === 'function' && incoming.stream === undefined &&
    typeof outgoing?.writeHead === 'function' && typeof outgoing.once === 'function';
  return http1 ? { incoming: incoming as IncomingMessage, outgoing: outgoing as ServerResponse } : undefined;
}

/** The model named in the body of a clone of `raw`, reading at most `maxBytes` of it. */
async function modelInClone(raw: Request, maxBytes: number): Promise<string | undefined> {
  const body = raw.clone().body;
  if (body === null) return undefined;
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      // The clone's twin buffers what the clone read ahead: stop at the cap so that stays bounded too.
      if (size > maxBytes) {
        // Not awaited: a tee branch's cancel settles only once the handler's branch is done too.
        reader.cancel().catch(() => {});
        return undefined;
      }
      chunks.push(value);
    }
  } catch {
    return undefined;
  }
  return modelIn(Buffer.concat(chunks).toString('utf8'));
}

/**
 * `body` as it goes out, reported to `outcome`: each piece, its end, an error in it (the server's),
 * and a cancel (the runtime's, when the client leaves). Pulled one piece at a time, so backpressure holds.
 */
function observedBody(body: ReadableStream<Uint8Array>, outcome: Outcome, status: number, contentType: string | null): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let result: Awaited<ReturnType<typeof reader.read>>;
        try {
          result = await reader.read();
        } catch (error) {
          outcome.cut(false, error);
          return controller.error(error);
        }
        if (result.done) {
          outcome.finish(status);
          return controller.close();
        }
        outcome.write(status, () => contentType, result.value);
        controller.enqueue(result.value);
      },
      cancel(reason) {
        outcome.cut(true);
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** Hono middleware (`app.use(instrumentHono(llm))`) recording every LLM request on `llm`. */
export function instrumentHono(llm: LlmMetrics, options: HonoInstrumentationOptions = {}) {
  const fallbackModel = (raw: Request) => {
    try {
      return options.model?.(raw);
    } catch {
      return undefined;
    }
  };
  return async function inferwatch(c: HonoContextLike, next: () => Promise<void>): Promise<void> {
    const { method, path, raw } = c.req;
    if (!included(options.include, method, path) || observed.has(raw)) return next();
    observed.add(raw);
    const node = nodeObjects(c.env);
    if (node !== undefined) {
      observeExchange(llm, node.incoming, node.outgoing, {
        include: () => true,
        model: () => fallbackModel(raw),
        maxScanBytes: options.maxScanBytes,
        attributes: () => attributesOf(options.attributes, raw),
      });
      return next();
    }

    const arrival = llm.now();
    let model: string | undefined;
    let handle: RequestHandle | undefined;
    const start = () =>
      (handle ??= llm.startRequest({
        model: model ?? fallbackModel(raw) ?? 'unknown',
        operation: operationFor(path),
        at: arrival,
        context: extractTraceContext(raw.headers),
        attributes: attributesOf(options.attributes, raw),
      }));
    const outcome = new Outcome(start);
    // Web-standard runtimes abort the request's signal when the client leaves, at any moment.
    raw.signal.addEventListener('abort', () => outcome.cut(true), { once: true });
    // A clone leaves the body for the handler.
    model = await modelInClone(raw, options.maxScanBytes ?? 1024 * 1024);
    start();
    try {
      await next();
    } catch (error) {
      outcome.cut(false, error);
      throw error;
    }
    const res = c.res;
    if (res.body === null) return outcome.finish(res.status);
    c.res = new Response(observedBody(res.body, outcome, res.status, res.headers.get('content-type')), res);
  };
}
