export { instrumentOpenAI } from './openai.js';
export { aiSdkMiddleware } from './ai.js';
