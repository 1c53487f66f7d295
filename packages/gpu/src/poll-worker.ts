/**
 * Runs node-nvidia-smi off the main thread: parsing tens of kilobytes of XML every few seconds would
 * otherwise stall the host's event loop. Answers each `poll` message with the parsed GPUs or a
 * classified error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { parseNvidiaSmi } from './nvidia-smi.js';
import { PersistentShell, type ShellCallback } from './shell.js';
import type { PollReply, PollRequest } from './protocol.js';

const MAX_OUTPUT_BYTES: number = workerData?.maxOutputBytes ?? 32 * 1024 * 1024;
const MAX_GPUS: number = workerData?.maxGpus ?? 64;

// node-nvidia-smi calls exec('nvidia-smi -q -x', cb) with no timeout, no handle and exec's 1 MiB
// output cap. This worker's own child_process.exec is replaced, before node-nvidia-smi loads, by one
// with exec's callback contract that runs the command in a persistent shell of its own process
// group: a hung run can be killed whole, and no poll forks this (large) process. (Windows has no
// such shell; there a hung run is left to the collector's watchdog, which ends this worker.)
const childProcess: typeof import('node:child_process') = require('node:child_process');
const shell = new PersistentShell(MAX_OUTPUT_BYTES);
if (process.platform !== 'win32') {
  childProcess.exec = ((command: string, callback: ShellCallback) => shell.run(command, callback)) as unknown as typeof childProcess.exec;
}
const nvidiaSmi: (callback: (error: unknown, data?: unknown) => void) => void = require('node-nvidia-smi');

function classify(error: unknown, timedOut: boolean): PollReply {
  if (timedOut) return { ok: false, error: 'timeout', message: 'nvidia-smi did not answer in time and was killed' };
  if (typeof error === 'string') return { ok: false, error: 'stderr', message: error.trim().slice(0, 500) };
  const e = error as { code?: unknown; message?: unknown; cmd?: string };
  const message = String(e?.message ?? error).trim().slice(0, 500);
  if (e?.cmd === undefined) return { ok: false, error: 'invalid_output', message };
  if (e.code === 127 || e.code === 'ENOENT') return { ok: false, error: 'not_found', message };
  if (e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') return { ok: false, error: 'output_too_large', message };
  return { ok: false, error: 'exit_status', message };
}

parentPort?.on('message', (request: PollRequest) => {
  if ('stop' in request) {
    shell.kill();
    parentPort?.postMessage({ stopped: true });
    return;
  }
  const { timeoutMs } = request;
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  nvidiaSmi((error, data) => {
    clearTimeout(timer);
    let reply: PollReply;
    if (error) reply = classify(error, timedOut);
    else {
      try {
        reply = { ok: true, ...parseNvidiaSmi(data, MAX_GPUS) };
      } catch (parseError) {
        reply = { ok: false, error: 'invalid_output', message: String(parseError) };
      }
    }
    parentPort?.postMessage(reply);
  });
  timer = setTimeout(() => {
    timedOut = true;
    shell.kill();
  }, timeoutMs);
});
