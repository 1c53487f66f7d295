// The Vercel AI SDK: wrap any language model with the middleware.
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { streamText, wrapLanguageModel } from 'ai';
import { createClientMetrics } from '@inferwatch/sdk';
import { instrumentAiSdk } from '@inferwatch/client';
import { printClientMetrics } from './print-client-metrics.mjs';

// In an app, export it with startMetrics({ metricProducers: [metrics.producer] }).
const metrics = createClientMetrics();
const provider = createOpenAICompatible({ name: 'gateway', baseURL: process.env.BASE_URL ?? 'http://localhost:8000/v1', includeUsage: true });
const model = wrapLanguageModel({ model: provider(process.env.MODEL ?? 'sim-llama-8b'), middleware: instrumentAiSdk(metrics) });

const result = streamText({ model, prompt: 'Say hello' });
for await (const text of result.textStream) process.stdout.write(text);
console.log();
await printClientMetrics(metrics);
