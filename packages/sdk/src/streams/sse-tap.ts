import { rejectOn, usableHandle, type RequestHandle } from '../record/lifecycle.js';
import { describe } from '../record/notices.js';
import { errorType } from '../record/read-values.js';
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

/**
 * Where the JSON string whose body starts at `from` closes (the index of its closing quote), or -1
 * if it does not before `end`. A backslash escapes the next byte; UTF-8 continuation bytes are never
 * a quote or a backslash, so bytes need no decoding.
 */
function stringEnd(bytes: Uint8Array, from: number, end: number): number {
  for (let i = from; i < end; i++) {
    const c = bytes[i];
    if (c === QUOTE) return i;
    if (c === BACKSLASH) i++;
  }
  return -1;
}

/** `b[at, at + a.length)` equals `a`. For a few dozen bytes a loop beats a native call's overhead. */
function sameBytes(a: Uint8Array, b: Uint8Array, at: number): boolean {
  const n = a.length;
  for (let k = 0; k < n; k++) if (a[k] !== b[at + k]) return false;
  return true;
}

/**
 * The bytes around the delta of the last plain content event (one non-empty delta, no finish
 * reason, usage or error). The chunks of one stream mostly share them (same id, model, created;
 * only the delta differs), so an event made of `prefix`, a whole JSON string and `suffix` has
 * exactly the signals of that event: a token if the string is non-empty. A native comparison of
 * the prefix, a short one of the suffix and a scan of the delta alone replace a scan of the event.
 */
export class Shape {
  /** Whether the delta of the last match was non-empty (1) or empty (0). */
  content = 0;

  constructor(
    /** Up to and including the delta's opening quote. */
    readonly prefix: Buffer,
    /** From the delta's closing quote to the end of the line. */
    readonly suffix: Buffer,
  ) {}

  /** If an event of this shape starts at `at`, where it ends (within `limit`); else -1. */
  matchAt(bytes: Uint8Array, at: number, limit: number): number {
    const deltaStart = at + this.prefix.length;
    if (deltaStart > limit || this.prefix.compare(bytes, at, deltaStart) !== 0) return -1;
    const close = stringEnd(bytes, deltaStart, limit);
    const end = close + this.suffix.length;
    if (close === -1 || end > limit || !sameBytes(this.suffix, bytes, close)) return -1;
    this.content = close > deltaStart ? 1 : 0;
    return end;
  }

  static of(bytes: Uint8Array, start: number, end: number, open: number): Shape | undefined {
    const close = stringEnd(bytes, open + 1, end);
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
    if (typeof chunk !== 'string' && !isBytes(chunk)) {
      return rejectOn(this.handle, 'invalid_argument', `tap.write() needs a string or bytes, not ${describe(chunk)}`);
    }
    const bytes = asBytes(chunk);
    if (this.format === 'json') return this.keep(bytes);
    let start = 0;
    let newline: number;
    if (this.pendingBytes > 0) {
      newline = newlineIn(bytes, 0);
      if (newline !== -1) {
        // A line that began in an earlier chunk ends in this one.
        this.keep(bytes.subarray(0, newline));
        this.lineOf(this.takePending());
        start = newline + 1;
      }
    }
    if (this.pendingBytes === 0 && !this.done) start = this.sameShape(bytes, start);
    newline = start < bytes.length ? newlineIn(bytes, start) : -1;
    while (newline !== -1 && !this.done) {
      this.line(bytes, start, newline);
      start = newline + 1;
      newline = newlineIn(bytes, start);
    }
    // Copied: the caller may reuse its buffer once write() returns.
    if (start < bytes.length && !this.done) this.keep(Uint8Array.prototype.slice.call(bytes, start));
    this.flushTokens();
  }

  /** Consumes the whole events of the known shape (and the blank lines after them) from `start`; returns where it stopped. */
  private sameShape(bytes: Uint8Array, start: number): number {
    const shape = this.shape;
    if (shape === undefined) return start;
    const length = bytes.length;
    while (start < length) {
      let end = shape.matchAt(bytes, start, length);
      if (end === -1) break;
      if (bytes[end] === CR) end++;
      if (bytes[end] !== NEWLINE) break;
      this.tokens += shape.content;
      start = end + 1;
      while (bytes[start] === NEWLINE || (bytes[start] === CR && bytes[start + 1] === NEWLINE)) start += bytes[start] === CR ? 2 : 1;
    }
    return start;
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
    if (this.shape !== undefined && this.shape.matchAt(bytes, start, end) === end) {
      this.tokens += this.shape.content;
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
      return this.fail({ code: bodyErrorType(event) });
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
