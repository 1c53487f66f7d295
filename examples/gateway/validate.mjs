// OpenAI-style request checks: what is wrong comes back as a 400 with the usual error body.

export class RequestError extends Error {
  constructor(status, message, param = null, type = 'invalid_request_error') {
    super(message);
    this.status = status;
    this.param = param;
    this.type = type;
  }

  body() {
    return JSON.stringify({ error: { message: this.message, type: this.type, param: this.param, code: null } });
  }
}

const isInt = (v) => Number.isInteger(v) && v >= 0;

/** Parses and checks a completion request body; returns it, or throws a RequestError. */
export function validate(raw, chat) {
  let body;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new RequestError(400, 'We could not parse the JSON body of your request. Send valid JSON.');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RequestError(400, 'The request body must be a JSON object.');
  if (body.model === undefined) throw new RequestError(400, 'You must provide a model parameter.', 'model');
  if (typeof body.model !== 'string' || body.model === '') throw new RequestError(400, '`model` must be a non-empty string.', 'model');
  if (chat) {
    if (!Array.isArray(body.messages) || body.messages.length === 0) throw new RequestError(400, '`messages` must be a non-empty array.', 'messages');
    if (!body.messages.every((m) => typeof m === 'object' && m !== null && typeof m.role === 'string')) {
      throw new RequestError(400, 'Each message must be an object with a string `role`.', 'messages');
    }
  } else if (typeof body.prompt !== 'string' && !(Array.isArray(body.prompt) && body.prompt.every((p) => typeof p === 'string'))) {
    throw new RequestError(400, '`prompt` must be a string or an array of strings.', 'prompt');
  }
  if (body.stream !== undefined && typeof body.stream !== 'boolean') throw new RequestError(400, '`stream` must be a boolean.', 'stream');
  if (body.max_tokens !== undefined && body.max_tokens !== null && !(isInt(body.max_tokens) && body.max_tokens > 0)) {
    throw new RequestError(400, '`max_tokens` must be a positive integer.', 'max_tokens');
  }
  if (body.stream_options !== undefined && body.stream_options !== null && typeof body.stream_options !== 'object') {
    throw new RequestError(400, '`stream_options` must be an object.', 'stream_options');
  }
  for (const name of ['temperature', 'top_p']) {
    if (body[name] !== undefined && body[name] !== null && typeof body[name] !== 'number') throw new RequestError(400, `\`${name}\` must be a number.`, name);
  }
  return body;
}
