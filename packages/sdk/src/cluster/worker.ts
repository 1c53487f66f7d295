/**
 * A cluster worker's side: it tells the primary who it is, sends its recorders' state whenever a request
 * ends (so a worker that dies, even by SIGKILL, takes no finished request with it) and every second, and
 * answers a scrape with the group's exposition, which the primary assembles from every worker's state.
 */
import cluster from 'node:cluster';
import type { Attributes } from '@opentelemetry/api';
import type { MetricData } from '@opentelemetry/sdk-metrics';
import type { ExpositionFormat } from '../export/exposition.js';
import type { Notices } from '../record/notices.js';
import type { Recorder } from '../record/recorder.js';
import { PROTOCOL, isOurs, type Ask, type FromPrimary, type Hello, type State } from './protocol.js';
import { engineState, layoutState, seriesState, type RecorderState } from './state.js';

/** How long a worker waits for the primary's welcome before it serves its own share alone (and says so). */
const WELCOME_TIMEOUT_MS = 1000;
/** How long a scrape or a page waits for the primary's answer before it fails with a 503. */
const ANSWER_TIMEOUT_MS = 5000;
/** Tokens and gauges between request ends reach the primary at this pace. */
const PUSH_INTERVAL_MS = 1000;

export interface WorkerLink {
  /** Resolves true once the primary took this worker in; false when the primary runs no startMetrics (said once). */
  readonly joined: Promise<boolean>;
  /** The group's exposition in `format` (gzipped when `compress`), from the primary. */
  render(format: ExpositionFormat, scraper: string, compress: boolean): Promise<Buffer>;
  /** The group's live-page snapshot (JSON), from the primary. */
  snapshot(scraper: string): Promise<string>;
  stop(): void;
}

const send = (message: unknown): boolean => {
  try {
    // The callback takes a closed channel's error, which as an unheard 'error' event would end the worker.
    return process.send!(message, undefined, undefined, () => undefined);
  } catch {
    // The channel closed (the primary is going away): nothing to tell it any more.
    return false;
  }
};

/** Whether a series of `r` changed since the last message, without copying its series. */
function hasDirty(r: Recorder): boolean {
  for (const s of r.series.values()) if (s.dirty) return true;
  return false;
}

/**
 * Joins the primary's group when this process is a node:cluster worker; undefined otherwise. `collect`
 * gives this worker's metric data other than its recorders' (runtime, its MeterProvider's), for a scraper.
 */
export function joinCluster(recorders: readonly Recorder[], resource: Attributes, instance: string, collect: (scraper: string) => Promise<MetricData[]>, notices: Notices): WorkerLink | undefined {
  if (!cluster.isWorker || typeof process.send !== 'function') return undefined;
  let nextId = 0;
  const pending = new Map<number, { resolve: (body: string) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
  let pushQueued = false;

  /** Each recorder's changed series since the last message; `withEngine` adds the engine state (read through its callbacks). */
  const recorderStates = (withEngine: boolean): RecorderState[] =>
    recorders.map((r) => {
      const series = [];
      for (const [key, s] of r.series) {
        if (!s.dirty) continue;
        s.dirty = false;
        series.push(seriesState(key, s));
      }
      return { series, misuse: Array.from(r.misuse.counts), engine: withEngine ? engineState(r.engine.snapshot()) : undefined };
    });
  const state = async (scraper?: string, id?: number): Promise<State> => ({
    inferwatch: PROTOCOL,
    type: 'state',
    id,
    recorders: recorderStates(true),
    metrics: scraper === undefined ? undefined : await collect(scraper),
  });
  const push = () => {
    pushQueued = false;
    send({ inferwatch: PROTOCOL, type: 'state', recorders: recorderStates(false) } satisfies State);
  };

  let resolveJoined!: (joined: boolean) => void;
  const joined = new Promise<boolean>((resolve) => (resolveJoined = resolve));
  const welcomeTimer = setTimeout(() => {
    // PM2's cluster mode forks its workers with node:cluster from its own daemon, which runs none of the app's code.
    const pm2 = process.env.pm_id !== undefined;
    notices.warn(
      'cluster_no_primary',
      pm2
        ? "this process is a PM2 cluster-mode worker: PM2's daemon is its node:cluster primary and runs no code of yours, so the workers cannot be assembled into one /metrics; each shows only its own requests. Give each instance a metrics port of its own (prometheus: { port: 9464 + Number(process.env.NODE_APP_INSTANCE) }) and sum them in PromQL, or run the app under node:cluster with startMetrics() in the primary (see the SDK README, Many processes)."
        : "this process is a node:cluster worker, but its primary runs no startMetrics(): each worker's /metrics shows only its own requests. Call startMetrics() in the primary too, so any worker answers for the whole group (see the SDK README, Many processes).",
    );
    resolveJoined(false);
  }, WELCOME_TIMEOUT_MS).unref();

  const onMessage = (message: unknown) => {
    if (!isOurs(message)) return;
    const m = message as FromPrimary;
    if (m.type === 'welcome') {
      clearTimeout(welcomeTimer);
      // The primary prints the group's line: each worker's own would show only its share.
      for (const r of recorders) r.stopLogLine();
      resolveJoined(true);
    } else if (m.type === 'collect') {
      void state(m.scraper, m.id).then(send, () => undefined);
    } else if (m.type === 'answer') {
      const waiting = pending.get(m.id);
      if (waiting === undefined) return;
      pending.delete(m.id);
      clearTimeout(waiting.timer);
      if (m.body !== undefined) waiting.resolve(m.body);
      else waiting.reject(Object.assign(new Error(m.error ?? 'the primary could not answer'), { status: 503 }));
    }
  };
  process.on('message', onMessage);
  // A request's end is sent as soon as the code that ended it returns: in the same turn of the loop, before the next I/O.
  for (const r of recorders) {
    r.onEnd = () => {
      if (pushQueued) return;
      pushQueued = true;
      queueMicrotask(push);
    };
  }
  const interval = setInterval(() => {
    if (recorders.some(hasDirty)) send({ inferwatch: PROTOCOL, type: 'state', recorders: recorderStates(true) } satisfies State);
  }, PUSH_INTERVAL_MS).unref();
  send({
    inferwatch: PROTOCOL,
    type: 'hello',
    instance,
    resource,
    recorders: recorders.map((r) => ({ layouts: Object.fromEntries(Object.entries(r.layouts).map(([k, l]) => [k, layoutState(l)])) as Hello['recorders'][number]['layouts'], logIntervalMs: r.logIntervalMs })),
  } satisfies Hello);

  const ask = async (type: Ask['type'], scraper: string, format?: ExpositionFormat, compress?: boolean): Promise<string> => {
    const id = ++nextId;
    const message: Ask = { inferwatch: PROTOCOL, type, id, format, compress, scraper, state: await state(scraper) };
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(Object.assign(new Error(`the cluster's primary did not answer within ${ANSWER_TIMEOUT_MS} ms`), { status: 503 }));
      }, ANSWER_TIMEOUT_MS);
      pending.set(id, { resolve, reject, timer });
      if (!send(message) && !process.connected) {
        pending.delete(id);
        clearTimeout(timer);
        reject(Object.assign(new Error("the cluster's primary is gone"), { status: 503 }));
      }
    });
  };

  return {
    joined,
    render: async (format, scraper, compress) => Buffer.from(await ask('render', scraper, format, compress), 'base64'),
    snapshot: (scraper) => ask('snapshot', scraper),
    stop() {
      clearTimeout(welcomeTimer);
      clearInterval(interval);
      process.off('message', onMessage);
      for (const r of recorders) r.onEnd = undefined;
      for (const [id, waiting] of pending) {
        clearTimeout(waiting.timer);
        waiting.reject(new Error('metrics are shutting down'));
        pending.delete(id);
      }
    },
  };
}
