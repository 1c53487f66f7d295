import type { GpuSample } from './nvidia-smi.js';

/** Why a poll produced no data; the `error.type` of `inferwatch.gpu.poll.errors`. */
export type PollError = 'not_found' | 'timeout' | 'exit_status' | 'stderr' | 'invalid_output' | 'output_too_large';

/** Poll now (`timeoutMs`), or stop: kill the shell's process group and remove its folder, then answer `{ stopped: true }`. */
export type PollRequest = { timeoutMs: number } | { stop: true };

/** `listed`: how many GPUs nvidia-smi described, of which at most `maxGpus` are in `gpus`. */
export type PollReply = { ok: true; gpus: GpuSample[]; listed: number } | { ok: false; error: PollError; message: string };
