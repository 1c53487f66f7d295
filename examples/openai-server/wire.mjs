// The OpenAI wire format: chunks, bodies, errors.
import { HttpError } from '@inferwatch/http';

/**
 * What every chunk and body of one response repeats.
 * @typedef {object} ResponseContext
 * @property {string} id
 * @property {string} model
 * @property {number} created  Unix seconds
 * @property {boolean} chat  a chat completion (else a text completion)
 */

/**
 * The token counts of a response.
 * @typedef {{ prompt_tokens: number, completion_tokens: number, total_tokens: number }} Usage
 */

// The body is @inferwatch/http's; the engines name 404s and 429s by type, as the gateway does.
/** @type {Partial<Record<number, string>>} */
const TYPES = { 404: 'not_found_error', 429: 'rate_limit_error' };
/**
 * An OpenAI error body.
 * @param {number} status
 * @param {string} message
 * @param {string | null} [param]  the request field at fault
 * @returns {string}
 */
export const errorBody = (status, message, param = null) => new HttpError(status, message, { param, type: TYPES[status] }).body();

/**
 * One SSE event of a streamed response: a token's `text`, or (`text` null) the finish.
 * @param {ResponseContext} ctx
 * @param {string | null} text
 * @param {string | null} finishReason
 * @param {boolean} first  the response's first chunk (a chat's carries the role)
 */
export function chunkOf({ id, model, created, chat }, text, finishReason, first) {
  const choice = chat
    ? { index: 0, delta: first ? { role: 'assistant', content: text ?? '' } : text === null ? {} : { content: text }, logprobs: null, finish_reason: finishReason }
    : { index: 0, text: text ?? '', logprobs: null, finish_reason: finishReason };
  return `data: ${JSON.stringify({ id, object: chat ? 'chat.completion.chunk' : 'text_completion', created, model, choices: [choice] })}\n\n`;
}

/**
 * @param {ResponseContext} ctx
 * @param {Usage} usage
 */
export function usageChunk({ id, model, created, chat }, usage) {
  return `data: ${JSON.stringify({ id, object: chat ? 'chat.completion.chunk' : 'text_completion', created, model, choices: [], usage })}\n\n`;
}

/**
 * @param {ResponseContext} ctx
 * @param {string} text
 * @param {string} finishReason
 * @param {Usage} usage
 */
export function completionBody({ id, model, created, chat }, text, finishReason, usage) {
  const choice = chat ? { index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: finishReason } : { index: 0, text, logprobs: null, finish_reason: finishReason };
  return JSON.stringify({ id, object: chat ? 'chat.completion' : 'text_completion', created, model, choices: [choice], usage });
}
