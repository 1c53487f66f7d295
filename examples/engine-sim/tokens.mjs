// The simulated engine's tokens: words.

/**
 * Words are tokens here: the load generator builds prompts of N words to ask for N tokens.
 * @param {unknown} text  anything but a string counts 0
 */
export const countTokens = (text) => (typeof text === 'string' ? text.split(/\s+/).filter(Boolean).length : 0);

const VOCABULARY = ['the', 'model', 'says', 'tokens', 'flow', 'through', 'a', 'simulated', 'engine', 'quietly', 'and', 'steadily'];
/** @param {number} i */
export const word = (i) => ` ${VOCABULARY[i % VOCABULARY.length]}`;

/**
 * The prompt's tokens: a completion's prompt, or the text of a chat's messages.
 * @param {import('@inferwatch/openai-server').BodyOfKind} request
 */
export function promptTokensOf({ body, chat }) {
  if (!chat) return Array.isArray(body.prompt) ? body.prompt.reduce((n, p) => n + countTokens(p), 0) : countTokens(body.prompt);
  return body.messages.reduce((n, m) => n + countTokens(typeof m?.content === 'string' ? m.content : ''), 0);
}
