export { instrumentContext, QueueFullError, finishReasonOf } from './pool.js';
export type { LlamaRequest, AcquireOptions, InstrumentContextOptions, InstrumentedContext, PoolRecorder, SequenceUsage } from './pool.js';
