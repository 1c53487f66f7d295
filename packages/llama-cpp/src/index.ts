export { instrumentContext, QueueFullError, finishReasonOf } from './pool.js';
export type { LlamaRequest, AcquireOptions, InstrumentContextOptions, InstrumentedContext, SequenceUsage } from './pool.js';
