import { rejectOn, usableHandle, type RequestHandle } from './lifecycle.js';
import { describe } from './misuse.js';
import { errorType } from './read-values.js';
import { scanEvent } from './sse-scan.js';

/**
 * Watches the bytes of an OpenAI-style response, streamed (`text/event-stream`, `data: {...}` lines)
 * or not (one JSON body), and drives a request handle from them. It only reads: the bytes are the
 * caller's to forward untouched.
 */
export interface ResponseTap {
  /** Feed the next piece of the response body, exactly as sent. */
  write(chunk: Uint8Array | string): void;
  /** The body ended normally: ends the request with the finish reason and usage seen. */
  finish(): void;
  /** The body broke off with an error: fails the request. */
  fail(error?: unknown): void;
  /** The client went away: aborts the request. */
  abort(): void;
}

export interface TapOptions {
  /** `sse` for `text/event-stream` bodies, `json` for one JSON body. */
  format: 'sse' | 'json';
}

const NEWLINE = 10;
const CR = 13;
const MAX_JSON_BODY = 16 * 1024 * 1024;
const MAX_LINE = 1024 * 1024;

interface Usage {
  prompt_tokens?: unknown;
  completion_tokens?: unknown;
}

interface ErrorBody {
  error?: { type?: unknown; code?: unknown } | string;
  object?: unknown;
  type?: unknown;
  code?: unknown;
}

/** An error event's or body's `error.type`, read as the recorders read errors; `upstream_error` when it names none. */
function bodyErrorType(body: ErrorBody): string {
  const source = typeof body.error === 'object' && body.error !== null ? body.error : body;
  return errorType(source) ?? 'upstream_error';
}

const isError = (body: ErrorBody | null | undefined) => body?.error !== undefined || body?.object === 'error';
const count = (n: unknown) => (typeof n === 'number' ? n : undefined);
const asBytes = (chunk: Uint8Array | string) => (typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
// Buffer's native search works on any Uint8Array and is several times faster than
// Uint8Array.prototype.indexOf, and fetch hands over plain Uint8Arrays.
const nativeIndexOf = Buffer.prototype.indexOf as (this: Uint8Array, value: number, byteOffset?: number) => number;
const newlineIn = (bytes: Uint8Array, from: number) => nativeIndexOf.call(bytes, NEWLINE, from);

class Tap implements ResponseTap {
  /** The start of a line that has not ended yet (SSE), or the body so far (JSON). */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private done = false;
  private finishReason: string | undefined;
  private usage: Usage | undefined;
  private sawDone = false;

  constructor(
    private readonly handle: RequestHandle,
    private readonly format: 'sse' | 'json',
  ) {}

  write(chunk: Uint8Array | string): void {
    if (this.done) return;
    if (typeof chunk !== 'string' && !isBytes(chunk)) {
      return rejectOn(this.handle, 'invalid_argument', `tap.write() needs a string or bytes, not ${describe(chunk)}`);
    }
    const bytes = asBytes(chunk);
    if (this.format === 'json') return this.keep(bytes);
    let start = 0;
    let newline = newlineIn(bytes, 0);
    if (newline !== -1 && this.pendingBytes > 0) {
      // A line that began in an earlier chunk ends in this one.
      this.keep(bytes.subarray(0, newline));
      this.lineOf(this.takePending());
      start = newline + 1;
      newline = newlineIn(bytes, start);
    }
    while (newline !== -1 && !this.done) {
      this.line(bytes, start, newline);
      start = newline + 1;
      newline = newlineIn(bytes, start);
    }
    // Copied: the caller may reuse its buffer once write() returns.
    if (start < bytes.length && !this.done) this.keep(Uint8Array.prototype.slice.call(bytes, start));
  }

  finish(): void {
    if (this.done) return;
    if (this.format === 'json') return this.finishJson();
    if (this.pendingBytes > 0) this.lineOf(this.takePending());
    if (this.done) return;
    this.done = true;
    // An OpenAI-style stream that stops before [DONE] and before any finish_reason was cut short.
    if (!this.sawDone && this.finishReason === undefined) return this.handle.fail({ code: 'incomplete_stream' });
    this.endWith(this.finishReason, this.usage);
  }

  fail(error?: unknown): void {
    if (this.done) return;
    this.done = true;
    this.handle.fail(error);
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    this.handle.abort();
  }

  private keep(bytes: Uint8Array): void {
    const limit = this.format === 'json' ? MAX_JSON_BODY : MAX_LINE;
    if (this.pendingBytes + bytes.length > limit) return;
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
  }

  private takePending(): Uint8Array {
    const joined = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    return joined;
  }

  private lineOf(bytes: Uint8Array): void {
    this.line(bytes, 0, bytes.length);
  }

  private line(bytes: Uint8Array, start: number, newline: number): void {
    const end = newline > start && bytes[newline - 1] === CR ? newline - 1 : newline;
    const event = scanEvent(bytes, start, end);
    if (event.ignored) return;
    if (event.done) {
      this.sawDone = true;
      return;
    }
    if (event.content) this.handle.tokens(1);
    if (event.finishReason !== undefined) this.finishReason = event.finishReason;
    if (event.parse) this.parseEvent(Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8'));
  }

  /** Only the rare events that carry usage or an error are parsed in full. */
  private parseEvent(line: string): void {
    let event: ErrorBody & { usage?: Usage };
    try {
      event = JSON.parse(line.slice(line.indexOf(':') + 1));
    } catch {
      return;
    }
    if (isError(event)) return this.fail({ code: bodyErrorType(event) });
    if (typeof event.usage === 'object' && event.usage !== null) this.usage = event.usage;
  }

  private finishJson(): void {
    this.done = true;
    let body: ErrorBody & { usage?: Usage; choices?: { finish_reason?: unknown }[] };
    try {
      body = JSON.parse(Buffer.concat(this.pending).toString('utf8'));
    } catch {
      return this.handle.fail({ code: 'invalid_response' });
    }
    if (isError(body)) return this.handle.fail({ code: bodyErrorType(body) });
    const reason = body?.choices?.[0]?.finish_reason;
    this.endWith(typeof reason === 'string' ? reason : undefined, body?.usage);
  }

  /** An upstream's `abort` or `error` finish reason (vLLM sends both) is that outcome, not a success. */
  private endWith(finishReason: string | undefined, usage: Usage | undefined): void {
    if (finishReason === 'abort') return this.handle.abort();
    if (finishReason === 'error') return this.handle.fail('error');
    this.handle.end({ finishReason, promptTokens: count(usage?.prompt_tokens), outputTokens: count(usage?.completion_tokens) });
  }
}

function isBytes(chunk: unknown): boolean {
  try {
    return chunk instanceof Uint8Array;
  } catch {
    // A proxy whose prototype trap throws.
    return false;
  }
}

function formatOf(options: unknown): 'sse' | 'json' {
  try {
    return (options as TapOptions | undefined)?.format === 'json' ? 'json' : 'sse';
  } catch {
    return 'sse';
  }
}

/** Creates a tap that drives `handle` from an OpenAI-style response body. */
export function tapResponse(handle: RequestHandle, options: TapOptions): ResponseTap {
  return new Tap(usableHandle(handle, 'tapResponse()'), formatOf(options));
}

/** `sse` for an event stream, `json` otherwise, from a response's content type. */
export function responseFormat(contentType: string | null | undefined): 'sse' | 'json' {
  return typeof contentType === 'string' && contentType.includes('text/event-stream') ? 'sse' : 'json';
}
