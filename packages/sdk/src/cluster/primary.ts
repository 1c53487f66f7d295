/**
 * A cluster's primary side: it keeps every worker's latest state, keeps the state of workers that exited
 * (a dead worker's counts stay in the total: the group's counters never go back), and assembles the
 * group's exposition and live-page snapshot whenever a worker is scraped. Counters and histograms are
 * summed; the scheduler gauges derived from requests are summed over the live workers; whatever a worker
 * reads of itself (engine-reported state, its event loop, its own instruments) stays per worker, under
 * `service_instance_id`, since a sum of those means nothing.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Attributes } from '@opentelemetry/api';
import type { MetricData } from '@opentelemetry/sdk-metrics';
import { PeriodicLogLine } from '../export/log-line.js';
import type { EnginePoint } from '../record/engine-state.js';
import { MISUSE_REASONS } from '../record/notices.js';
import type { LayoutTable, Series } from '../record/series.js';
import type { RecorderSource } from '../export/families.js';
import { compressed, renderExposition, type ExpositionParts } from '../export/prometheus.js';
import { snapshotOfParts } from '../export/snapshot.js';
import { PROTOCOL, isOurs, type Ask, type FromWorker, type Hello, type State } from './protocol.js';
import { addSeriesState, groupSeries, layoutTableOf, seriesState, type RecorderState, type SeriesState } from './state.js';

/** Whether this process leads a group: a node:cluster primary (any process that is not a worker). */
export const isClusterPrimary = () => cluster.isPrimary;

/** How long a scrape waits for the other workers' fresh state; a slow worker's last known state stands in. */
const GATHER_TIMEOUT_MS = 1000;
const INSTANCE = 'service_instance_id';

interface Member {
  worker: Worker;
  instance: string;
  /** Per recorder: the worker's latest state of each series, its misuse counts and engine points. */
  recorders: { series: Map<string, SeriesState>; misuse: number[]; engine: NonNullable<RecorderState['engine']> }[];
}

export interface ClusterOptions {
  /** Keep each worker's series apart, labelled `service_instance_id`, instead of summing them. Default false. */
  perWorker?: boolean;
}

export class ClusterPrimary {
  private readonly members = new Map<number, Member>();
  /** Per recorder, what exited workers recorded: added to the group for good. */
  private readonly retired: { series: Map<string, SeriesState>; misuse: number[] }[] = [];
  private layouts: LayoutTable[] = [];
  private resource: Attributes | undefined;
  private readonly logLines: PeriodicLogLine[] = [];
  private nextId = 0;
  private readonly gathers = new Map<number, (state: State) => void>();
  /**
   * Per recorder, the group's series as last assembled, and the keys of those some worker's state changed
   * since: a scrape re-adds only those, so an idle group costs a scrape nothing but the render.
   */
  private readonly assembled: { series: Map<string, Series>; stale: Set<string> | 'all' }[] = [];

  constructor(
    private readonly ownInstance: string,
    private readonly options: ClusterOptions,
    /** The primary's own exposition parts for a scraper: its recorders if it has any, its event loop, its GPUs. */
    private readonly local: (scraper: string) => Promise<ExpositionParts>,
  ) {
    cluster.on('message', this.onMessage);
    cluster.on('exit', this.onExit);
  }

  stop(): void {
    cluster.off('message', this.onMessage);
    cluster.off('exit', this.onExit);
    for (const line of this.logLines) line.stop();
  }

  private readonly onMessage = (worker: Worker, message: unknown) => {
    if (!isOurs(message)) return;
    const m = message as FromWorker;
    if (m.type === 'hello') return this.welcome(worker, m);
    const member = this.members.get(worker.id);
    if (member === undefined) return;
    if (m.type === 'state') {
      this.absorb(member, m);
      if (m.id !== undefined) this.gathers.get(m.id)?.(m);
      return;
    }
    this.absorb(member, m.state);
    void this.answer(member, m).then(
      (body) => this.send(worker, { inferwatch: PROTOCOL, type: 'answer', id: m.id, body }),
      (error: unknown) => this.send(worker, { inferwatch: PROTOCOL, type: 'answer', id: m.id, error: error instanceof Error ? error.message : String(error) }),
    );
  };

  /** A worker that exited: its last state joins the retired, with no requests in flight. */
  private readonly onExit = (worker: Worker) => {
    const member = this.members.get(worker.id);
    if (member === undefined) return;
    this.members.delete(worker.id);
    for (const a of this.assembled) a.stale = 'all';
    member.recorders.forEach((r, i) => {
      const retired = this.retiredAt(i);
      for (const s of r.series.values()) retired.series.set(s.key, sum(retired.series.get(s.key), s, this.layouts[i]));
      for (let k = 0; k < r.misuse.length; k++) retired.misuse[k] += r.misuse[k];
    });
  };

  private welcome(worker: Worker, hello: Hello): void {
    // The first worker's recorders set the group's layouts: every worker runs the same code.
    if (this.layouts.length < hello.recorders.length) {
      this.layouts = hello.recorders.map((r, i) => this.layouts[i] ?? layoutTableOf(r.layouts));
      hello.recorders.forEach((r, i) => {
        if (r.logIntervalMs !== undefined && this.logLines[i] === undefined) this.logLines[i] = new PeriodicLogLine(this.logSource(i), { intervalMs: r.logIntervalMs });
      });
    }
    this.resource ??= hello.resource;
    this.members.set(worker.id, { worker, instance: hello.instance, recorders: hello.recorders.map(() => ({ series: new Map(), misuse: [], engine: [] })) });
    this.send(worker, { inferwatch: PROTOCOL, type: 'welcome' });
  }

  private absorb(member: Member, state: State): void {
    state.recorders.forEach((r, i) => {
      const own = member.recorders[i];
      if (own === undefined) return;
      const stale = this.assembledAt(i).stale;
      for (const s of r.series) {
        own.series.set(s.key, s);
        if (stale !== 'all') stale.add(s.key);
      }
      own.misuse = r.misuse;
      if (r.engine !== undefined) own.engine = r.engine;
    });
  }

  /**
   * Sends to a worker; `failed` runs when its channel is closed. With a callback Node hands a closed channel's
   * error to it, not to an 'error' event that, unheard, would end the primary. The worker's exit retires it.
   */
  private send(worker: Worker, message: unknown, failed?: () => void): void {
    try {
      worker.send(message as never, undefined, (error: Error | null) => {
        if (error) failed?.();
      });
    } catch {
      failed?.();
    }
  }

  private retiredAt(i: number) {
    return (this.retired[i] ??= { series: new Map(), misuse: new Array<number>(MISUSE_REASONS.length).fill(0) });
  }

  /** Asks every live worker but `except` for its fresh state and metric data, waiting at most GATHER_TIMEOUT_MS. */
  private async gather(scraper: string, except: Member | undefined): Promise<Map<Member, MetricData[]>> {
    const fresh = new Map<Member, MetricData[]>();
    await Promise.all(
      [...this.members.values()]
        .filter((m) => m !== except)
        .map(
          (member) =>
            new Promise<void>((resolve) => {
              const id = ++this.nextId;
              const giveUp = () => {
                this.gathers.delete(id);
                clearTimeout(timer);
                resolve();
              };
              const timer = setTimeout(giveUp, GATHER_TIMEOUT_MS);
              this.gathers.set(id, (state) => {
                fresh.set(member, state.metrics ?? []);
                giveUp();
              });
              // A worker that cannot be asked counts with its last state at once, not after the timeout.
              this.send(member.worker, { inferwatch: PROTOCOL, type: 'collect', id, scraper }, giveUp);
            }),
        ),
    );
    return fresh;
  }

  /**
   * The group's exposition parts for a scrape: every worker's fresh state (the asking one's came with its
   * question), the primary's own recorders and data beside them, and each process's own metric data labelled.
   */
  async parts(scraper: string, ownParts: Promise<ExpositionParts>, asking?: { member: Member; metrics: MetricData[] }): Promise<ExpositionParts> {
    // The workers collect while this process does.
    const [local, metrics] = await Promise.all([ownParts, this.gather(scraper, asking?.member)]);
    if (asking !== undefined) metrics.set(asking.member, asking.metrics);
    const byProcess: [string, MetricData[]][] = [[this.ownInstance, [...local.metrics]], ...[...metrics].map(([m, data]): [string, MetricData[]] => [m.instance, data])];
    // The group carries the app's resource (the workers'), as this process's instance.
    const resource = this.resource === undefined ? local.resource : { ...this.resource, 'service.instance.id': this.ownInstance };
    return { resource, recorders: [...local.recorders, ...this.sources()], metrics: this.members.size > 0 ? labelled(byProcess) : local.metrics };
  }

  private async answer(asking: Member, ask: Ask): Promise<string> {
    const parts = await this.parts(ask.scraper, this.local(ask.scraper), { member: asking, metrics: ask.state.metrics ?? [] });
    if (ask.type === 'snapshot') return snapshotOfParts(parts);
    return (await compressed(renderExposition(ask.format ?? 'prometheus', parts), ask.compress === true)).toString('base64');
  }

  private assembledAt(i: number) {
    return (this.assembled[i] ??= { series: new Map(), stale: 'all' });
  }

  /** The group's recorders now: retired and live states summed per series (or kept apart per worker). */
  sources(): RecorderSource[] {
    return this.layouts.map((layouts, i) => {
      const assembled = this.assembledAt(i);
      const { series } = assembled;
      const add = (s: SeriesState, live: boolean, instance?: string) => {
        const key = instance === undefined ? s.key : `${instance}\u0000${s.key}`;
        let target = series.get(key);
        if (target === undefined) {
          const state = instance === undefined ? s : { ...s, attributes: { ...s.attributes, [INSTANCE]: instance } };
          series.set(key, (target = groupSeries(state, layouts)));
        }
        addSeriesState(target, s, live);
      };
      const retired = this.retired[i];
      // Kept apart per worker, a series' keys are many: those groups are assembled whole each time.
      const stale = this.options.perWorker ? 'all' : assembled.stale;
      if (stale === 'all') {
        series.clear();
        for (const s of retired?.series.values() ?? []) add(s, false);
        for (const member of this.members.values()) for (const s of member.recorders[i]?.series.values() ?? []) add(s, true, this.options.perWorker ? member.instance : undefined);
      } else {
        for (const key of stale) {
          series.delete(key);
          const before = retired?.series.get(key);
          if (before !== undefined) add(before, false);
          for (const member of this.members.values()) {
            const s = member.recorders[i]?.series.get(key);
            if (s !== undefined) add(s, true);
          }
        }
      }
      assembled.stale = new Set();
      const misuse = Float64Array.from(retired?.misuse ?? new Array<number>(MISUSE_REASONS.length).fill(0));
      const points: EnginePoint[] = [];
      for (const member of this.members.values()) {
        const r = member.recorders[i];
        if (r === undefined) continue;
        r.misuse.forEach((n, k) => (misuse[k] += n));
        for (const p of r.engine) {
          points.push({ attributes: { ...p.attributes, [INSTANCE]: member.instance }, values: Float64Array.from(p.values, (v) => (v === null ? NaN : v)) });
        }
      }
      return { series, misuse: { counts: misuse }, engine: { snapshot: () => points } };
    });
  }

  /** What the group's log line reads: the summed series, as of its last states. */
  private logSource(i: number) {
    const primary = this;
    return {
      clock: () => performance.now(),
      get series() {
        return primary.sources()[i].series;
      },
      get engine() {
        return primary.sources()[i].engine;
      },
      get totals() {
        let promptTokens = 0;
        let outputTokens = 0;
        for (const s of primary.sources()[i].series.values()) {
          promptTokens += s.promptTokens;
          outputTokens += s.outputTokens;
        }
        return { promptTokens, outputTokens };
      },
    };
  }
}

/** Two states of one series added: what the retired keep of workers that exited. */
function sum(a: SeriesState | undefined, b: SeriesState, layouts: LayoutTable): SeriesState {
  const target = groupSeries(b, layouts);
  if (a !== undefined) addSeriesState(target, a, false);
  addSeriesState(target, b, false);
  return seriesState(b.key, target);
}

/** Every process's own metric data, one family per name, each point labelled with the process it came from. */
function labelled(byProcess: [string, MetricData[]][]): MetricData[] {
  const families = new Map<string, MetricData>();
  for (const [instance, metrics] of byProcess) {
    for (const metric of metrics) {
      const points = metric.dataPoints.map((p) => ({ ...p, attributes: { ...p.attributes, [INSTANCE]: instance } }));
      const known = families.get(metric.descriptor.name);
      if (known === undefined) families.set(metric.descriptor.name, { ...metric, dataPoints: points } as MetricData);
      else if (known.dataPointType === metric.dataPointType) (known.dataPoints as unknown[]).push(...points);
    }
  }
  return [...families.values()];
}

