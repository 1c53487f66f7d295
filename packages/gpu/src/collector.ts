import { Worker } from 'node:worker_threads';
import { diag } from '@opentelemetry/api';
import type { MetricProducer } from '@opentelemetry/sdk-metrics';
import type { GpuSample } from './nvidia-smi.js';
import { GpuMetricProducer } from './producer.js';
import type { PollError, PollReply, PollRequest } from './protocol.js';

export interface GpuCollectorOptions {
  /** Time between polls. Default 5000 ms. */
  intervalMs?: number;
  /** A run of nvidia-smi taking longer is killed and counted as `timeout`. Default 10 000 ms. */
  timeoutMs?: number;
  /** Processes whose GPU memory `inferwatch.gpu.process.memory.usage` reports. Default: this process. */
  pids?: readonly number[];
  /** Longest wait between checks while nvidia-smi is missing. Default 300 000 ms. */
  maxBackoffMs?: number;
  /** Largest nvidia-smi output accepted, in bytes; the read stops there. Default 32 MiB. */
  maxOutputBytes?: number;
  /** GPUs read from one poll; those beyond are left out (said once). Default 64. */
  maxGpus?: number;
  /** Where the collector's few info and warning lines go. Default: stderr (`console.warn`). */
  log?: (line: string) => void;
}

export interface GpuCollector {
  /** An OpenTelemetry `MetricProducer` with the latest per-GPU values. */
  readonly producer: MetricProducer;
  /** The GPUs of the last successful poll; empty after a failed one. */
  readonly gpus: readonly GpuSample[];
  /** Polls now (or joins the poll in flight) and resolves when it is done. */
  poll(): Promise<void>;
  /** Stops polling and ends the worker. */
  shutdown(): Promise<void>;
}

const WORKER_URL = new URL('./poll-worker.cjs', import.meta.url);
// Beyond the worker's own kill timer: a worker that still has not answered is ended from here.
const WATCHDOG_GRACE_MS = 2000;
// How long shutdown() waits for the worker to kill its shell; past it, ending the worker does the same (see shell.ts).
const STOP_WAIT_MS = 1000;

function positive(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

class Collector implements GpuCollector {
  gpus: readonly GpuSample[] = [];
  readonly errors = new Map<PollError, number>();
  readonly producer: GpuMetricProducer;
  readonly pids: readonly number[];

  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly maxBackoffMs: number;
  private readonly maxOutputBytes: number;
  private readonly maxGpus: number;
  /** Failure kinds and over-cap GPU counts already said once. */
  private readonly said = new Set<string>();
  private readonly log: (line: string) => void;
  private worker: Worker | undefined;
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private delayMs: number;
  private missing = false;
  private stopped = false;

  constructor(options: GpuCollectorOptions) {
    this.intervalMs = positive(options.intervalMs, 5000);
    this.timeoutMs = positive(options.timeoutMs, 10_000);
    this.maxBackoffMs = Math.max(this.intervalMs, positive(options.maxBackoffMs, 300_000));
    this.maxOutputBytes = positive(options.maxOutputBytes, 32 * 1024 * 1024);
    this.maxGpus = Math.max(1, Math.floor(positive(options.maxGpus, 64)));
    this.pids = Array.isArray(options.pids) ? options.pids.filter(Number.isSafeInteger) : [process.pid];
    // Diagnostics, so stderr: a plain app sees them without mixing them into its output.
    this.log = typeof options.log === 'function' ? options.log : (line) => console.warn(line);
    this.delayMs = this.intervalMs;
    this.producer = new GpuMetricProducer(this);
    this.schedule(0);
  }

  poll(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.inFlight ??= this.runOnce().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const worker = this.worker;
    this.worker = undefined;
    if (worker === undefined) return;
    // The worker kills its shell's process group (a poll in flight included) and removes its folder.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, STOP_WAIT_MS);
      worker.on('message', (reply: { stopped?: boolean }) => {
        if (reply?.stopped) (clearTimeout(timer), resolve());
      });
      worker.once('exit', () => (clearTimeout(timer), resolve()));
      worker.postMessage({ stop: true } satisfies PollRequest);
    });
    await worker.terminate();
  }

  /** Says a kind of problem once; the counter (or the next success) says the rest. */
  private once(kind: string, line: string): void {
    if (this.said.has(kind)) return;
    this.said.add(kind);
    this.log(line);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      const started = performance.now();
      void this.poll().then(() => this.schedule(Math.max(0, this.delayMs - (performance.now() - started))));
    }, delayMs).unref();
  }

  private async runOnce(): Promise<void> {
    const reply = await this.request();
    // A poll cut short by shutdown() is no failure of nvidia-smi.
    if (this.stopped) return;
    if (reply.ok) {
      this.gpus = reply.gpus;
      if (reply.listed > reply.gpus.length) {
        this.once('max_gpus', `inferwatch: nvidia-smi lists ${reply.listed} GPUs; only the first ${this.maxGpus} are read (maxGpus)`);
      }
      this.delayMs = this.intervalMs;
      if (this.missing) this.log(`inferwatch: nvidia-smi is back; GPU metrics are on (${reply.gpus.length} GPUs)`);
      this.missing = false;
      return;
    }
    // Values from an earlier poll would look current on a dashboard: drop them instead.
    this.gpus = [];
    this.errors.set(reply.error, (this.errors.get(reply.error) ?? 0) + 1);
    if (reply.error === 'not_found') {
      if (!this.missing) this.log('inferwatch: nvidia-smi not found; no GPU metrics (checking again with a growing interval)');
      this.missing = true;
      this.delayMs = Math.min(this.maxBackoffMs, this.delayMs * 2);
      return;
    }
    this.delayMs = this.intervalMs;
    diag.debug(`inferwatch: nvidia-smi poll failed (${reply.error}): ${reply.message}`);
    this.once(
      reply.error,
      `inferwatch: an nvidia-smi poll failed (${reply.error}: ${reply.message.split('\n')[0].slice(0, 200)}); later ones are counted in inferwatch.gpu.poll.errors`,
    );
  }

  private request(): Promise<PollReply> {
    let worker: Worker;
    try {
      worker = this.ensureWorker();
    } catch (error) {
      // No worker (a missing file, a thread limit): a failed poll, never a rejection the timer would leave unhandled.
      return Promise.resolve({ ok: false, error: 'exit_status', message: `the poll worker did not start: ${String(error)}` });
    }
    return new Promise((resolve) => {
      const watchdog = setTimeout(() => {
        worker.off('message', onMessage);
        void worker.terminate();
        if (this.worker === worker) this.worker = undefined;
        resolve({ ok: false, error: 'timeout', message: 'the poll worker did not answer' });
      }, this.timeoutMs + WATCHDOG_GRACE_MS);
      const onMessage = (reply: PollReply | { stopped: true }) => {
        if ('stopped' in reply) return;
        worker.off('message', onMessage);
        clearTimeout(watchdog);
        resolve(reply);
      };
      worker.on('message', onMessage);
      worker.postMessage({ timeoutMs: this.timeoutMs } satisfies PollRequest);
    });
  }

  private ensureWorker(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = new Worker(WORKER_URL, { workerData: { maxOutputBytes: this.maxOutputBytes, maxGpus: this.maxGpus } });
    worker.unref();
    const forget = () => {
      if (this.worker === worker) this.worker = undefined;
    };
    worker.on('error', (error) => {
      diag.warn(`inferwatch: GPU poll worker failed: ${String(error)}`);
      forget();
    });
    worker.on('exit', forget);
    this.worker = worker;
    return worker;
  }
}

/** Starts polling nvidia-smi (first poll at once, then every `intervalMs`) and returns the collector. */
export function createGpuCollector(options: GpuCollectorOptions = {}): GpuCollector {
  return new Collector(readOptions(options));
}

/** The options as plain values, read once; options that are not an object, or whose getters throw, give the defaults. */
function readOptions(options: unknown): GpuCollectorOptions {
  try {
    return typeof options === 'object' && options !== null && !Array.isArray(options) ? { ...(options as GpuCollectorOptions) } : {};
  } catch {
    return {};
  }
}

