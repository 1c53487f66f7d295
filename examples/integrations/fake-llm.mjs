// A stand-in for a model, shared by the server examples: an OpenAI-style SSE body, a token every 20 ms.
/**
 * @param {unknown} model  the request's, echoed in every chunk
 * @param {string[]} [words]
 */
export async function* completionEvents(model, words = ['Hello', ' from', ' a', ' fake', ' model']) {
  for (const word of words) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    yield `data: ${JSON.stringify({ object: 'chat.completion.chunk', model, choices: [{ index: 0, delta: { content: word }, finish_reason: null }] })}\n\n`;
  }
  yield `data: ${JSON.stringify({ object: 'chat.completion.chunk', model, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`;
  yield 'data: [DONE]\n\n';
}

/**
 * A node:http handler's answer from the fake model: the body's `model`, its completion streamed as SSE.
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 */
export async function streamCompletion(req, res) {
  let body = '';
  for await (const chunk of req) body += chunk;
  const { model } = JSON.parse(body || '{}');
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for await (const event of completionEvents(model)) res.write(event);
  res.end();
}

export const port = Number(process.env.PORT ?? 3000);
