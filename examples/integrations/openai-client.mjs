// The openai client, instrumented in place. BASE_URL: any OpenAI-compatible server (default: the demo gateway).
import OpenAI from 'openai';
import { createClientMetrics } from '@inferwatch/sdk';
import { instrumentOpenAI } from '@inferwatch/client';
import { printClientMetrics } from './print-client-metrics.mjs';

// In an app, export it with startMetrics({ metricProducers: [metrics.producer] }).
const metrics = createClientMetrics();
const openai = instrumentOpenAI(metrics, new OpenAI({ baseURL: process.env.BASE_URL ?? 'http://localhost:8000/v1', apiKey: process.env.OPENAI_API_KEY ?? 'none' }));

const stream = await openai.chat.completions.create({
  model: process.env.MODEL ?? 'sim-llama-8b',
  messages: [{ role: 'user', content: 'Say hello' }],
  stream: true,
  stream_options: { include_usage: true },
});
for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? '');
console.log();
await printClientMetrics(metrics);
