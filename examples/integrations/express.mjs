// Express: mount the middleware before the body parser.
import express from 'express';
import { createLlmMetrics, startMetrics } from '@inferwatch/sdk';
import { instrumentExpress } from '@inferwatch/http';
import { completionEvents, port } from './fake-llm.mjs';

const llm = createLlmMetrics();
const { metricsHandler } = startMetrics({ serviceName: 'express-example', llm });

const app = express();
app.get('/metrics', metricsHandler);
app.use(instrumentExpress(llm));
app.use(express.json());
app.post('/v1/chat/completions', async (req, res) => {
  res.setHeader('content-type', 'text/event-stream');
  for await (const event of completionEvents(req.body.model)) res.write(event);
  res.end();
});
app.listen(port, () => console.log(`listening on http://127.0.0.1:${port}`));
