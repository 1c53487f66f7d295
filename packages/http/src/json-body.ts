// Request bodies read with bounds: bytes, time, and JSON nesting depth checked as the bytes arrive,
// so a hostile body costs a linear scan and never reaches JSON.parse.
import type { IncomingMessage } from 'node:http';

/**
 * An error that becomes an OpenAI-style error response: `{ error: { message, type, param, code } }`;
 * `body()` is the one place the examples' servers write that body.
 */
export class HttpError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;

  constructor(status: number, message: string, details: { type?: string; param?: string | null; code?: string | null } = {}) {
    super(message);
    this.status = status;
    this.type = details.type ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
    this.param = details.param ?? null;
    this.code = details.code ?? null;
  }

  body(): string {
    return JSON.stringify({ error: { message: this.message, type: this.type, param: this.param, code: this.code } });
  }
}

const QUOTE = 34;
const BACKSLASH = 92;
const OPEN_ARRAY = 91;
const OPEN_OBJECT = 123;
const CLOSE_ARRAY = 93;
const CLOSE_OBJECT = 125;

/**
 * Tracks JSON nesting depth over raw bytes, chunk by chunk. UTF-8 continuation bytes are all
 * ≥ 0x80, so they never look like the ASCII structure bytes watched here.
 */
export class DepthScan {
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(private readonly maxDepth: number) {}

  /** False once the nesting went deeper than allowed. */
  feed(bytes: Uint8Array): boolean {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === BACKSLASH) this.escaped = true;
        else if (b === QUOTE) this.inString = false;
      } else if (b === QUOTE) this.inString = true;
      else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
        if (++this.depth > this.maxDepth) return false;
      } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) this.depth--;
    }
    return true;
  }
}

/** Whether `text` nests no deeper than `maxDepth` (a linear scan, for text already in memory). */
export function withinDepth(text: string, maxDepth: number): boolean {
  return new DepthScan(maxDepth).feed(Buffer.from(text, 'utf8'));
}

export interface BodyLimits {
  maxBytes: number;
  maxDepth: number;
  timeoutMs: number;
}

/**
 * Reads a request body whole, or rejects: 413 past `maxBytes`, 400 past `maxDepth`, 408 when it
 * has not arrived within `timeoutMs`, `signal.reason` when the exchange ends first. On rejection the
 * rest of the body is left unread (the response should close the connection).
 */
export function readBody(req: IncomingMessage, limits: BodyLimits, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const chunks: Buffer[] = [];
    const scan = new DepthScan(limits.maxDepth);
    let size = 0;
    const settle = (error: unknown) => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (error === undefined) return resolve(Buffer.concat(chunks, size));
      req.pause();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limits.maxBytes) return settle(new HttpError(413, `The request body is over ${limits.maxBytes} bytes.`, { code: 'body_too_large' }));
      if (!scan.feed(chunk)) return settle(new HttpError(400, `The JSON body nests deeper than ${limits.maxDepth} levels.`, { code: 'json_too_deep' }));
      chunks.push(chunk);
    };
    const onEnd = () => settle(undefined);
    // Closed before its end: the client left mid-body.
    const onClose = () => settle(signal.aborted ? signal.reason : new Error('the client closed the connection mid-body'));
    const onAbort = () => settle(signal.reason);
    const timer = setTimeout(
      () => settle(new HttpError(408, `The request body did not arrive within ${limits.timeoutMs} ms.`, { type: 'timeout_error', code: 'body_timeout' })),
      limits.timeoutMs,
    );
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
