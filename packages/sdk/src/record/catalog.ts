/**
 * Every metric the recorder produces: one place for names, units, descriptions and default buckets,
 * so the producer, the docs test and the dashboards agree.
 */

export const ATTR_MODEL = 'gen_ai.request.model';
export const ATTR_OPERATION = 'gen_ai.operation.name';
export const ATTR_PROVIDER = 'gen_ai.provider.name';
export const ATTR_TOKEN_TYPE = 'gen_ai.token.type';
export const ATTR_ERROR_TYPE = 'error.type';
export const ATTR_FINISH_REASON = 'finish_reason';
export const ATTR_MISUSE_REASON = 'reason';

// Metric names, as constants in the style of @opentelemetry/semantic-conventions (METRIC_*).
export const METRIC_GEN_AI_SERVER_REQUEST_DURATION = 'gen_ai.server.request.duration';
export const METRIC_GEN_AI_SERVER_TIME_TO_FIRST_TOKEN = 'gen_ai.server.time_to_first_token';
export const METRIC_GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN = 'gen_ai.server.time_per_output_token';
export const METRIC_INFERWATCH_REQUEST_INTER_TOKEN_LATENCY = 'inferwatch.request.inter_token_latency';
export const METRIC_INFERWATCH_REQUEST_QUEUE_DURATION = 'inferwatch.request.queue.duration';
export const METRIC_INFERWATCH_REQUEST_INFERENCE_DURATION = 'inferwatch.request.inference.duration';
export const METRIC_INFERWATCH_REQUEST_PREFILL_DURATION = 'inferwatch.request.prefill.duration';
export const METRIC_INFERWATCH_REQUEST_DECODE_DURATION = 'inferwatch.request.decode.duration';
export const METRIC_INFERWATCH_REQUEST_TOKEN_USAGE = 'inferwatch.request.token.usage';
export const METRIC_GEN_AI_CLIENT_OPERATION_DURATION = 'gen_ai.client.operation.duration';
export const METRIC_GEN_AI_CLIENT_TOKEN_USAGE = 'gen_ai.client.token.usage';
export const METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK = 'gen_ai.client.operation.time_to_first_chunk';
export const METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK = 'gen_ai.client.operation.time_per_output_chunk';
export const METRIC_INFERWATCH_TOKENS = 'inferwatch.tokens';
export const METRIC_INFERWATCH_REQUESTS_FINISHED = 'inferwatch.requests.finished';
export const METRIC_INFERWATCH_REQUEST_PREEMPTIONS = 'inferwatch.request.preemptions';
export const METRIC_INFERWATCH_SDK_MISUSE = 'inferwatch.sdk.misuse';
export const METRIC_INFERWATCH_SCHEDULER_RUNNING = 'inferwatch.scheduler.running';
export const METRIC_INFERWATCH_SCHEDULER_WAITING = 'inferwatch.scheduler.waiting';
export const METRIC_INFERWATCH_SCHEDULER_SWAPPED = 'inferwatch.scheduler.swapped';
export const METRIC_INFERWATCH_KV_CACHE_GPU_USAGE = 'inferwatch.kv_cache.gpu.usage';
export const METRIC_INFERWATCH_KV_CACHE_CPU_USAGE = 'inferwatch.kv_cache.cpu.usage';
export const METRIC_INFERWATCH_EVENTLOOP_DELAY = 'inferwatch.eventloop.delay';

// Bucket advice from the OpenTelemetry GenAI semantic conventions.
const DURATION_ADVICE = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
const TTFT_ADVICE = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const TPOT_ADVICE = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5];
const TOKEN_ADVICE = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
// Our own metrics: phases can be near zero (an idle queue), and fast engines emit tokens every few ms.
const PHASE_BUCKETS = [0.001, 0.005, ...DURATION_ADVICE];
const ITL_BUCKETS = [0.001, 0.0025, 0.005, ...TPOT_ADVICE, 5, 10];

/** 2^from, 2^(from + step), … up to 2^to: the classic buckets text scrapers get from a native-only histogram. */
const powersOfTwo = (from: number, to: number, step = 1) => Int32Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step);
const SECONDS_POWERS = powersOfTwo(-10, 8);
const TOKEN_POWERS = powersOfTwo(0, 26, 2);

export interface HistogramSpec {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
  /** Default classic buckets. */
  readonly buckets: readonly number[];
  /** Exponents of the powers of two that bound the classic view of a native-only histogram. */
  readonly powers: Int32Array;
}

export const HISTOGRAMS = {
  requestDuration: {
    name: METRIC_GEN_AI_SERVER_REQUEST_DURATION,
    unit: 's',
    description: 'End-to-end time from arrival to the last byte of the response, for every request that ended.',
    buckets: DURATION_ADVICE,
    powers: powersOfTwo(-7, 8),
  },
  timeToFirstToken: {
    name: METRIC_GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
    unit: 's',
    description: 'Time from arrival to the first output token, queueing included.',
    buckets: TTFT_ADVICE,
    powers: powersOfTwo(-10, 4),
  },
  timePerOutputToken: {
    name: METRIC_GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN,
    unit: 's',
    description: 'Per successful request: decode time divided by the output tokens after the first.',
    buckets: TPOT_ADVICE,
    powers: powersOfTwo(-10, 2),
  },
  interTokenLatency: {
    name: METRIC_INFERWATCH_REQUEST_INTER_TOKEN_LATENCY,
    unit: 's',
    description: 'Per output token after the first: time since the previous token.',
    buckets: ITL_BUCKETS,
    powers: powersOfTwo(-10, 4),
  },
  queueDuration: {
    name: METRIC_INFERWATCH_REQUEST_QUEUE_DURATION,
    unit: 's',
    description: 'Time a request waited before it was scheduled.',
    buckets: PHASE_BUCKETS,
    powers: SECONDS_POWERS,
  },
  inferenceDuration: {
    name: METRIC_INFERWATCH_REQUEST_INFERENCE_DURATION,
    unit: 's',
    description: 'Time a successful request spent scheduled (prefill and decode, preemptions included).',
    buckets: PHASE_BUCKETS,
    powers: SECONDS_POWERS,
  },
  prefillDuration: {
    name: METRIC_INFERWATCH_REQUEST_PREFILL_DURATION,
    unit: 's',
    description: 'Time from scheduling to the first output token.',
    buckets: PHASE_BUCKETS,
    powers: SECONDS_POWERS,
  },
  decodeDuration: {
    name: METRIC_INFERWATCH_REQUEST_DECODE_DURATION,
    unit: 's',
    description: 'Time from the first output token to the end of a successful request.',
    buckets: PHASE_BUCKETS,
    powers: SECONDS_POWERS,
  },
  tokenUsage: {
    name: METRIC_INFERWATCH_REQUEST_TOKEN_USAGE,
    unit: '{token}',
    description: 'Prompt (input) and generated (output) tokens per successful request.',
    buckets: TOKEN_ADVICE,
    powers: TOKEN_POWERS,
  },
} as const satisfies Record<string, HistogramSpec>;

export type HistogramKey = keyof typeof HISTOGRAMS;
/** The OTel names of the recorder's histograms, the keys of the `buckets` option. */
export type HistogramName = (typeof HISTOGRAMS)[HistogramKey]['name'];

/** Metrics of apps that call LLM APIs (gen_ai.client.*). */
export const CLIENT_HISTOGRAMS = {
  operationDuration: {
    name: METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
    unit: 's',
    description: 'Duration of a GenAI call as the client saw it, from the request to the last byte; failures carry error.type.',
    buckets: DURATION_ADVICE,
    powers: powersOfTwo(-7, 8),
  },
  tokenUsage: {
    name: METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
    unit: '{token}',
    description: 'Input and output tokens of a successful call, from the response usage.',
    buckets: TOKEN_ADVICE,
    powers: TOKEN_POWERS,
  },
  timeToFirstChunk: {
    name: METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
    unit: 's',
    description: 'Streaming calls: time from the request to the first chunk.',
    buckets: TTFT_ADVICE,
    powers: powersOfTwo(-10, 4),
  },
  timePerOutputChunk: {
    name: METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
    unit: 's',
    description: 'Streaming calls: time between consecutive chunks after the first.',
    buckets: TPOT_ADVICE,
    powers: powersOfTwo(-10, 2),
  },
} as const satisfies Record<string, HistogramSpec>;

/** The process's own histograms (runtime/runtime-metrics.ts). */
export const RUNTIME_HISTOGRAMS = {
  eventLoopDelay: {
    name: METRIC_INFERWATCH_EVENTLOOP_DELAY,
    unit: 's',
    description: 'How late each tick of the event-loop probe ran: the wait a request arriving then had before any timer of its own started.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    powers: powersOfTwo(-10, 4),
  },
} as const satisfies Record<string, HistogramSpec>;

export interface ScalarSpec {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
}

export const COUNTERS = {
  tokens: {
    name: METRIC_INFERWATCH_TOKENS,
    unit: '{token}',
    description: 'Prompt tokens processed and output tokens generated, counted as they happen.',
  },
  finished: {
    name: METRIC_INFERWATCH_REQUESTS_FINISHED,
    unit: '{request}',
    description: 'Requests that ended, by finish reason (stop, length, tool_calls, content_filter, other, abort, error).',
  },
  preemptions: {
    name: METRIC_INFERWATCH_REQUEST_PREEMPTIONS,
    unit: '{preemption}',
    description: 'Times a running request was preempted (swapped out).',
  },
  misuse: {
    name: METRIC_INFERWATCH_SDK_MISUSE,
    unit: '{call}',
    description: 'SDK calls ignored because they were invalid (bad numbers, events after end, events out of order).',
  },
} as const satisfies Record<string, ScalarSpec>;

export const GAUGES = {
  running: {
    name: METRIC_INFERWATCH_SCHEDULER_RUNNING,
    unit: '{request}',
    description: 'Requests scheduled and not yet finished.',
  },
  waiting: {
    name: METRIC_INFERWATCH_SCHEDULER_WAITING,
    unit: '{request}',
    description: 'Requests arrived and not yet scheduled.',
  },
  swapped: {
    name: METRIC_INFERWATCH_SCHEDULER_SWAPPED,
    unit: '{request}',
    description: 'Requests preempted and not yet resumed.',
  },
  gpuKvCacheUsage: {
    name: METRIC_INFERWATCH_KV_CACHE_GPU_USAGE,
    unit: '1',
    description: 'Fraction of GPU KV-cache blocks in use (1 = full).',
  },
  cpuKvCacheUsage: {
    name: METRIC_INFERWATCH_KV_CACHE_CPU_USAGE,
    unit: '1',
    description: 'Fraction of CPU (swap) KV-cache blocks in use (1 = full).',
  },
} as const satisfies Record<string, ScalarSpec>;

export type GaugeKey = keyof typeof GAUGES;

export const FINISH_REASONS = ['stop', 'length', 'tool_calls', 'content_filter', 'other', 'abort', 'error'] as const;
export type FinishReason = (typeof FINISH_REASONS)[number];
export const FINISH_ABORT = FINISH_REASONS.indexOf('abort');
export const FINISH_ERROR = FINISH_REASONS.indexOf('error');
