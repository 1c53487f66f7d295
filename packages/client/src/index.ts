export { instrumentOpenAI } from './openai.js';
export { instrumentAiSdk } from './ai.js';
