import type { RequestHandle } from './lifecycle.js';
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
const QUOTE = 34;
const BACKSLASH = 92;
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

function errorType(body: ErrorBody): string {
  const source = typeof body.error === 'object' && body.error !== null ? body.error : body;
  const type = source.type ?? source.code;
  return typeof type === 'string' || typeof type === 'number' ? String(type) : 'upstream_error';
}

const isError = (body: ErrorBody | null | undefined) => body?.error !== undefined || body?.object === 'error';
const count = (n: unknown) => (typeof n === 'number' ? n : undefined);
const asBytes = (chunk: Uint8Array | string) => (typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
// Buffer's native search works on any Uint8Array and is several times faster than
// Uint8Array.prototype.indexOf, and fetch hands over plain Uint8Arrays.
const nativeIndexOf = Buffer.prototype.indexOf as (this: Uint8Array, value: number, byteOffset?: number) => number;
const newlineIn = (bytes: Uint8Array, from: number) => nativeIndexOf.call(bytes, NEWLINE, from);

/** Backslashes immediately before `at`, down to `from`. An odd count escapes the byte at `at`. */
function backslashesBefore(bytes: Uint8Array, at: number, from: number): number {
  let n = 0;
  while (at - n - 1 >= from && bytes[at - n - 1] === BACKSLASH) n++;
  return n;
}

/** Where the JSON string whose opening quote is at `open` closes, or -1 if it does not before `end`. */
function closingQuote(bytes: Uint8Array, open: number, end: number): number {
  for (let q = nativeIndexOf.call(bytes, QUOTE, open + 1); q !== -1 && q < end; q = nativeIndexOf.call(bytes, QUOTE, q + 1)) {
    if ((backslashesBefore(bytes, q, open + 1) & 1) === 0) return q;
  }
  return -1;
}

/**
 * The bytes around the delta of the last plain content event (one non-empty delta, no finish
 * reason, usage or error). The chunks of one stream mostly share them (same id, model, created;
 * only the delta differs), so an event that starts with `prefix` and ends with `suffix`, with a
 * well-formed string between them, has exactly the signals of that event: a token if the string is
 * non-empty. Two native comparisons and a quote search replace a byte-by-byte scan of the event.
 */
export class Shape {
  constructor(
    /** Up to and including the delta's opening quote. */
    readonly prefix: Buffer,
    /** From the delta's closing quote to the end of the line. */
    readonly suffix: Buffer,
  ) {}

  /** 1: same shape, non-empty delta; 0: same shape, empty delta; -1: not this shape. */
  match(bytes: Uint8Array, start: number, end: number): number {
    const deltaStart = start + this.prefix.length;
    const deltaEnd = end - this.suffix.length;
    if (deltaEnd < deltaStart) return -1;
    if (this.prefix.compare(bytes, start, deltaStart) !== 0 || this.suffix.compare(bytes, deltaEnd, end) !== 0) return -1;
    // The delta must be a whole string: no unescaped quote inside, and not ending in an escape of the closing quote.
    if (closingQuote(bytes, deltaStart - 1, end) !== deltaEnd) return -1;
    return deltaEnd > deltaStart ? 1 : 0;
  }

  static of(bytes: Uint8Array, start: number, end: number, open: number): Shape | undefined {
    const close = closingQuote(bytes, open, end);
    if (close === -1) return undefined;
    return new Shape(Buffer.from(bytes.subarray(start, open + 1)), Buffer.from(bytes.subarray(close, end)));
  }
}

class Tap implements ResponseTap {
  /** The start of a line that has not ended yet (SSE), or the body so far (JSON). */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private done = false;
  private finishReason: string | undefined;
  private usage: Usage | undefined;
  private sawDone = false;
  private shape: Shape | undefined;
  /** Tokens seen in the current write, recorded together at its end: one clock read per upstream read. */
  private tokens = 0;
  private sawToken = false;

  constructor(
    private readonly handle: RequestHandle,
    private readonly format: 'sse' | 'json',
  ) {}

  write(chunk: Uint8Array | string): void {
    if (this.done) return;
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
    this.flushTokens();
  }

  finish(): void {
    if (this.done) return;
    if (this.format === 'json') return this.finishJson();
    if (this.pendingBytes > 0) this.lineOf(this.takePending());
    this.flushTokens();
    if (this.done) return;
    this.done = true;
    // An OpenAI-style stream that stops before [DONE] and before any finish_reason was cut short.
    if (!this.sawDone && this.finishReason === undefined) return this.handle.fail({ code: 'incomplete_stream' });
    this.handle.end({
      finishReason: this.finishReason,
      promptTokens: count(this.usage?.prompt_tokens),
      outputTokens: count(this.usage?.completion_tokens),
    });
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
    const same = this.shape === undefined ? -1 : this.shape.match(bytes, start, end);
    if (same !== -1) {
      this.tokens += same;
      return;
    }
    const event = scanEvent(bytes, start, end);
    if (event.ignored) return;
    if (event.done) {
      this.sawDone = true;
      return;
    }
    if (event.content) this.tokens++;
    if (event.finishReason !== undefined) this.finishReason = event.finishReason;
    if (event.parse) this.parseEvent(Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8'));
    else if (event.contentAt !== -1 && event.finishReason === undefined) this.shape = Shape.of(bytes, start, end, event.contentAt);
  }

  /**
   * Records the tokens of this read at one timestamp: the read is when the gateway saw them. The
   * first token of the stream is recorded alone, so time to first token is that of the first.
   */
  private flushTokens(): void {
    let n = this.tokens;
    if (n === 0) return;
    this.tokens = 0;
    if (!this.sawToken) {
      this.sawToken = true;
      this.handle.tokens(1);
      n--;
    }
    if (n > 0) this.handle.tokens(n);
  }

  /** Only the rare events that carry usage or an error are parsed in full. */
  private parseEvent(line: string): void {
    let event: ErrorBody & { usage?: Usage };
    try {
      event = JSON.parse(line.slice(line.indexOf(':') + 1));
    } catch {
      return;
    }
    if (isError(event)) {
      this.flushTokens();
      return this.fail({ code: errorType(event) });
    }
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
    if (isError(body)) return this.handle.fail({ code: errorType(body) });
    const reason = body?.choices?.[0]?.finish_reason;
    this.handle.end({
      finishReason: typeof reason === 'string' ? reason : undefined,
      promptTokens: count(body?.usage?.prompt_tokens),
      outputTokens: count(body?.usage?.completion_tokens),
    });
  }
}

/** Creates a tap that drives `handle` from an OpenAI-style response body. */
export function tapResponse(handle: RequestHandle, options: TapOptions): ResponseTap {
  return new Tap(handle, options?.format === 'json' ? 'json' : 'sse');
}

/** `sse` for an event stream, `json` otherwise, from a response's content type. */
export function responseFormat(contentType: string | null | undefined): 'sse' | 'json' {
  return typeof contentType === 'string' && contentType.includes('text/event-stream') ? 'sse' : 'json';
}
