/**
 * Compile-time checks (tsc reads this file; vitest does not run it).
 */
import type { GpuCollectorOptions } from '@inferwatch/gpu';
import { createLlmMetrics, METRIC_GEN_AI_SERVER_TIME_TO_FIRST_TOKEN, type GpuOptions } from '@inferwatch/sdk';

// The SDK declares the GPU options by shape (its published types must not import the optional
// @inferwatch/gpu); the two declarations must stay the same.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const gpuOptionsInStep: Same<Required<GpuOptions>, Required<GpuCollectorOptions>> = true;

// Bucket keys are the catalog's histogram names: the exported constants work, a misspelling does not compile.
createLlmMetrics({ buckets: { [METRIC_GEN_AI_SERVER_TIME_TO_FIRST_TOKEN]: [0.1, 1] } });
// @ts-expect-error: no histogram is named this
createLlmMetrics({ buckets: { 'gen_ai.server.time_to_first_tokn': [0.1, 1] } });
