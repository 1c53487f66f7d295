// The OpenAI wire format: chunks, bodies, errors.
import { HttpError } from '@inferwatch/http';

// The body is @inferwatch/http's; the engines name 404s and 429s by type, as the gateway does.
const TYPES = { 404: 'not_found_error', 429: 'rate_limit_error' };
export const errorBody = (status, message, param = null) => new HttpError(status, message, { param, type: TYPES[status] }).body();

export function chunkOf({ id, model, created, chat }, text, finishReason, first) {
  const choice = chat
    ? { index: 0, delta: first ? { role: 'assistant', content: text ?? '' } : text === null ? {} : { content: text }, logprobs: null, finish_reason: finishReason }
    : { index: 0, text: text ?? '', logprobs: null, finish_reason: finishReason };
  return `data: ${JSON.stringify({ id, object: chat ? 'chat.completion.chunk' : 'text_completion', created, model, choices: [choice] })}\n\n`;
}

export function usageChunk({ id, model, created, chat }, usage) {
  return `data: ${JSON.stringify({ id, object: chat ? 'chat.completion.chunk' : 'text_completion', created, model, choices: [], usage })}\n\n`;
}

export function completionBody({ id, model, created, chat }, text, finishReason, usage) {
  const choice = chat ? { index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: finishReason } : { index: 0, text, logprobs: null, finish_reason: finishReason };
  return JSON.stringify({ id, object: chat ? 'chat.completion' : 'text_completion', created, model, choices: [choice], usage });
}
