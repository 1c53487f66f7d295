import type { GpuSample } from './nvidia-smi.js';

/** Why a poll produced no data; the `error.type` of `inferwatch.gpu.poll.errors`. */
export type PollError = 'not_found' | 'timeout' | 'exit_status' | 'stderr' | 'invalid_output' | 'output_too_large';

export interface PollRequest {
  timeoutMs: number;
}

export type PollReply = { ok: true; gpus: GpuSample[] } | { ok: false; error: PollError; message: string };
