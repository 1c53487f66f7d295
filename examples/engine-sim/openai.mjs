// The OpenAI wire format the simulated engine speaks: request reading, chunks, bodies, errors.

/** Words are tokens here: the load generator builds prompts of N words to ask for N tokens. */
export const countTokens = (text) => (typeof text === 'string' ? text.split(/\s+/).filter(Boolean).length : 0);

const VOCABULARY = ['the', 'model', 'says', 'tokens', 'flow', 'through', 'a', 'simulated', 'engine', 'quietly', 'and', 'steadily'];
export const word = (i) => ` ${VOCABULARY[i % VOCABULARY.length]}`;

export function promptTokensOf(body, chat) {
  if (!chat) return Array.isArray(body.prompt) ? body.prompt.reduce((n, p) => n + countTokens(p), 0) : countTokens(body.prompt);
  return body.messages.reduce((n, m) => n + countTokens(typeof m?.content === 'string' ? m.content : ''), 0);
}

export function errorBody(status, message, param = null) {
  const type = status === 404 ? 'not_found_error' : status >= 500 ? 'server_error' : 'invalid_request_error';
  return JSON.stringify({ error: { message, type, param, code: null } });
}

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
