// OpenAI-style request checks: what is wrong comes back as a 400 with the usual error body.
import { HttpError } from '@inferwatch/http';

/**
 * A non-negative integer.
 * @param {unknown} v
 * @returns {v is number}
 */
const isInt = (v) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
/**
 * @param {string} message
 * @param {string | null} [param]  the field at fault
 */
const invalid = (message, param = null) => new HttpError(400, message, { param });

/**
 * Checks a parsed completion request body; returns it, or throws an HttpError.
 * @param {unknown} json
 * @param {boolean} chat
 * @returns {Record<string, unknown> & { model: string }} the body, with its checked fields
 */
export function validate(json, chat) {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalid('The request body must be a JSON object.');
  const body = /** @type {Record<string, unknown>} */ (json);
  if (body.model === undefined) throw invalid('You must provide a model parameter.', 'model');
  if (typeof body.model !== 'string' || body.model === '') throw invalid('`model` must be a non-empty string.', 'model');
  if (chat) {
    if (!Array.isArray(body.messages) || body.messages.length === 0) throw invalid('`messages` must be a non-empty array.', 'messages');
    if (!body.messages.every((m) => typeof m === 'object' && m !== null && typeof m.role === 'string')) {
      throw invalid('Each message must be an object with a string `role`.', 'messages');
    }
  } else if (typeof body.prompt !== 'string' && !(Array.isArray(body.prompt) && body.prompt.every((p) => typeof p === 'string'))) {
    throw invalid('`prompt` must be a string or an array of strings.', 'prompt');
  }
  if (body.stream !== undefined && typeof body.stream !== 'boolean') throw invalid('`stream` must be a boolean.', 'stream');
  if (body.max_tokens !== undefined && body.max_tokens !== null && !(isInt(body.max_tokens) && body.max_tokens > 0)) {
    throw invalid('`max_tokens` must be a positive integer.', 'max_tokens');
  }
  if (body.stream_options !== undefined && body.stream_options !== null && typeof body.stream_options !== 'object') {
    throw invalid('`stream_options` must be an object.', 'stream_options');
  }
  for (const name of ['temperature', 'top_p']) {
    if (body[name] !== undefined && body[name] !== null && typeof body[name] !== 'number') throw invalid(`\`${name}\` must be a number.`, name);
  }
  return /** @type {Record<string, unknown> & { model: string }} */ (body);
}
