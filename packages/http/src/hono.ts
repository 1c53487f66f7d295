import { extractTraceContext, responseFormat, trackStream, type LlmMetrics, type RequestAttributeValues } from '@inferwatch/sdk';
import { attributesOf, includeByDefault, modelIn, operationFor } from './exchange.js';

interface HonoContextLike {
  req: { raw: Request; method: string; path: string };
  res: Response;
  error?: unknown;
}

export interface HonoInstrumentationOptions {
  /** Which requests are LLM calls. Default: every POST. */
  include?: (method: string, path: string) => boolean;
  /** The model when the JSON body names none. */
  model?: (req: Request) => string | undefined;
  /** Largest request body read for the model (never more: the rest stays for the handler). Default 1 MiB. */
  maxBodyBytes?: number;
  /** The request's values of the attributes declared in `createLlmMetrics({ attributes })`, e.g. `(req) => ({ tenant: req.headers.get('x-tenant') ?? undefined })`. */
  attributes?: (req: Request) => RequestAttributeValues | undefined;
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

/** Hono middleware (`app.use(honoMiddleware(llm))`) recording every LLM request on `llm`. */
export function honoMiddleware(llm: LlmMetrics, options: HonoInstrumentationOptions = {}) {
  return async function inferwatch(c: HonoContextLike, next: () => Promise<void>): Promise<void> {
    const { method, path, raw } = c.req;
    if (!(options.include ?? includeByDefault)(method, path)) return next();
    const arrival = llm.now();
    // A clone leaves the body for the handler.
    const model = (await modelInClone(raw, options.maxBodyBytes ?? 1024 * 1024)) ?? options.model?.(raw);
    const attributes = attributesOf(options.attributes, raw);
    const handle = llm.startRequest({ model: model ?? 'unknown', operation: operationFor(path), at: arrival, context: extractTraceContext(raw.headers), attributes });
    try {
      await next();
    } catch (error) {
      handle.fail(error);
      throw error;
    }
    const res = c.res;
    if (c.error !== undefined || res.status >= 400) return handle.fail({ code: String(res.status) });
    if (res.body === null) return handle.end();
    c.res = new Response(trackStream(handle, res.body, { format: responseFormat(res.headers.get('content-type')) }), res);
  };
}
