// An OpenAI-style upstream for benchmarks: streams `max_tokens` chat chunks, GAP_MS apart (0: as fast
// as it can write), each a separate write, as engines do.
import { createServer } from 'node:http';

const gapMs = Number(process.env.GAP_MS ?? 0);
const chunk = (i) => `data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":" t${i % 10}"},"finish_reason":null}]}\n\n`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const server = createServer(async (req, res) => {
  // The gateway learns what its upstreams serve from /v1/models.
  if (req.method === 'GET') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[{"id":"m","object":"model","created":0,"owned_by":"bench"}]}');
  let raw = '';
  for await (const c of req) raw += c;
  const n = JSON.parse(raw).max_tokens ?? 100;
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (let i = 0; i < n && !res.destroyed; i++) {
    if (gapMs > 0) await sleep(gapMs);
    if (!res.write(chunk(i))) await new Promise((resolve) => res.once('drain', resolve));
  }
  res.end('data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"length"}]}\n\ndata: [DONE]\n\n');
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('ready'));
