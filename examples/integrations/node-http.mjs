// node:http: wrap the handler; the model comes from the body, tokens from the SSE you write.
import { createServer } from 'node:http';
import { createLlmMetrics, startMetrics } from '@inferwatch/sdk';
import { instrumentNodeHttp } from '@inferwatch/http';
import { port, streamCompletion } from './fake-llm.mjs';

const llm = createLlmMetrics();
const { metricsHandler } = startMetrics({ serviceName: 'node-http-example', llm });

/**
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 */
async function handler(req, res) {
  if (req.url === '/metrics') return metricsHandler(req, res);
  await streamCompletion(req, res);
}

createServer(instrumentNodeHttp(llm, handler)).listen(port, () => console.log(`listening on http://127.0.0.1:${port}`));
