export { instrumentOpenAI } from './openai.js';
export { instrumentAiSdk, aiSdkMiddleware } from './ai.js';
// The recorder the wrappers record on, here too, so an app that calls LLM APIs needs one package.
export { createClientMetrics } from '@inferwatch/sdk';
export type { ClientMetrics, ClientMetricsOptions, ClientOperation, ClientUsage, StartOperationInfo } from '@inferwatch/sdk';
