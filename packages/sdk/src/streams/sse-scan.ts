/**
 * Reads one `data:` line of an OpenAI-style event stream straight from its bytes, without decoding
 * or parsing it: a single pass that stops at quotes and compares the few keys that matter. A tap
 * sees every chunk a gateway forwards, so this is the per-chunk cost of instrumentation.
 */

const QUOTE = 34;
const COLON = 58;
const SPACE = 32;
const TAB = 9;
const LBRACE = 123;

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
// Each key without its opening quote, with its closing one.
const CONTENT = bytes('content"');
const TEXT = bytes('text"');
const ARGUMENTS = bytes('arguments"');
const REASONING = bytes('reasoning"');
const REASONING_CONTENT = bytes('reasoning_content"');
const FINISH_REASON = bytes('finish_reason"');
const USAGE = bytes('usage"');
const ERROR = bytes('error"');
const OBJECT = bytes('object"');
const ERROR_VALUE = bytes('"error"');
const DATA = bytes('data:');
const DONE = bytes('[DONE]');

export interface EventSignals {
  /** The line is `data: [DONE]`. */
  done: boolean;
  /** A non-empty content, text, tool-argument or reasoning delta. */
  content: boolean;
  /** Where the opening quote of that delta is, when the event has exactly one; else -1. */
  contentAt: number;
  /** A non-null finish_reason, else undefined. */
  finishReason: string | undefined;
  /** Carries usage or an error: worth a full JSON.parse. */
  parse: boolean;
  /** Not a `data:` line at all. */
  ignored: boolean;
}

const result: EventSignals = { done: false, content: false, contentAt: -1, finishReason: undefined, parse: false, ignored: true };

function startsWith(buf: Uint8Array, at: number, end: number, word: Uint8Array): boolean {
  if (at + word.length > end) return false;
  for (let k = 0; k < word.length; k++) if (buf[at + k] !== word[k]) return false;
  return true;
}

/** Where the value of `"key"` starts (after the colon and any spaces), or -1 if `key` is not at `at`. */
function valueOf(buf: Uint8Array, at: number, end: number, key: Uint8Array): number {
  if (!startsWith(buf, at, end, key)) return -1;
  let i = at + key.length;
  while (i < end && (buf[i] === SPACE || buf[i] === TAB)) i++;
  if (buf[i] !== COLON) return -1;
  i++;
  while (i < end && (buf[i] === SPACE || buf[i] === TAB)) i++;
  return i;
}

/** A non-empty JSON string starts at `v`. */
const nonEmptyString = (buf: Uint8Array, v: number, end: number) => v > 0 && v + 1 < end && buf[v] === QUOTE && buf[v + 1] !== QUOTE;

function delta(at: number): void {
  result.contentAt = result.content ? -1 : at;
  result.content = true;
}

/**
 * Scans `buf[start, end)`, one line without its line break. The returned object is reused by the
 * next call. Escaped quotes inside strings (`\"`) never line up with a key, so text that merely
 * mentions `"content":"` is not taken for a field.
 */
export function scanEvent(buf: Uint8Array, start: number, end: number): EventSignals {
  result.done = false;
  result.content = false;
  result.contentAt = -1;
  result.finishReason = undefined;
  result.parse = false;
  result.ignored = !startsWith(buf, start, end, DATA);
  if (result.ignored) return result;
  let i = start + DATA.length;
  if (buf[i] === SPACE) i++;
  if (end - i === DONE.length && startsWith(buf, i, end, DONE)) {
    result.done = true;
    return result;
  }
  for (; i < end; i++) {
    if (buf[i] !== QUOTE) continue;
    const at = i + 1;
    let v = -1;
    switch (buf[at]) {
      case 99: // c
        v = valueOf(buf, at, end, CONTENT);
        if (nonEmptyString(buf, v, end)) delta(v);
        break;
      case 116: // t
        v = valueOf(buf, at, end, TEXT);
        if (nonEmptyString(buf, v, end)) delta(v);
        break;
      case 97: // a
        v = valueOf(buf, at, end, ARGUMENTS);
        if (nonEmptyString(buf, v, end)) delta(v);
        break;
      case 114: // r
        v = valueOf(buf, at, end, REASONING_CONTENT);
        if (v === -1) v = valueOf(buf, at, end, REASONING);
        if (nonEmptyString(buf, v, end)) delta(v);
        break;
      case 102: // f
        v = valueOf(buf, at, end, FINISH_REASON);
        if (v > 0 && buf[v] === QUOTE) {
          let close = v + 1;
          while (close < end && buf[close] !== QUOTE) close++;
          // Decoded without spreading the bytes into arguments: an upstream's 150 k-byte value must not overflow the stack.
          result.finishReason = Buffer.from(buf.buffer, buf.byteOffset + v + 1, close - v - 1).toString('latin1');
        }
        break;
      case 117: // u
        v = valueOf(buf, at, end, USAGE);
        if (v > 0 && buf[v] === LBRACE) result.parse = true;
        break;
      case 101: // e
        v = valueOf(buf, at, end, ERROR);
        if (v > 0) result.parse = true;
        break;
      case 111: // o
        v = valueOf(buf, at, end, OBJECT);
        if (v > 0 && startsWith(buf, v, end, ERROR_VALUE)) result.parse = true;
        break;
    }
    // Resume at the value rather than inside the key just read.
    if (v > 0) i = v - 1;
  }
  return result;
}
