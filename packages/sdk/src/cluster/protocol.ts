/**
 * The messages a cluster's workers and primary exchange over node:cluster's IPC channel (JSON). Every one
 * carries `inferwatch: PROTOCOL`, so an app's own messages on the same channel are never taken for ours.
 */
import type { Attributes } from '@opentelemetry/api';
import type { MetricData } from '@opentelemetry/sdk-metrics';
import type { HistogramKey } from '../record/catalog.js';
import type { ExpositionFormat } from '../export/exposition.js';
import type { LayoutState, RecorderState } from './state.js';

export const PROTOCOL = 'inferwatch/cluster/1';

/** What a worker says of itself once: who it is and what its recorders keep. */
export interface Hello {
  inferwatch: typeof PROTOCOL;
  type: 'hello';
  /** Its `service.instance.id`: the label of its own series in the group. */
  instance: string;
  resource: Attributes;
  recorders: { layouts: Record<HistogramKey, LayoutState>; logIntervalMs?: number }[];
}

/** A worker's state: its recorders' changed series, and (answering a scrape) what else it exports. */
export interface State {
  inferwatch: typeof PROTOCOL;
  type: 'state';
  recorders: RecorderState[];
  /** Its other metric data (runtime, its MeterProvider's instruments), collected for the scrape at hand. */
  metrics?: MetricData[];
  /** Set when the state answers the primary's `collect` of that id. */
  id?: number;
}

/** A worker asks the primary for the group's exposition or snapshot, sending its own fresh state with it. */
export interface Ask {
  inferwatch: typeof PROTOCOL;
  type: 'render' | 'snapshot';
  id: number;
  format?: ExpositionFormat;
  /** The scraper takes gzip: the primary compresses the exposition, and a tenth of its bytes cross the channel. */
  compress?: boolean;
  scraper: string;
  state: State;
}

/** The primary's answers. */
export type FromPrimary =
  | { inferwatch: typeof PROTOCOL; type: 'welcome' }
  | { inferwatch: typeof PROTOCOL; type: 'collect'; id: number; scraper: string }
  | { inferwatch: typeof PROTOCOL; type: 'answer'; id: number; body?: string; error?: string };

export type FromWorker = Hello | State | Ask;

export const isOurs = (message: unknown): message is { inferwatch: typeof PROTOCOL; type: string } =>
  typeof message === 'object' && message !== null && (message as { inferwatch?: unknown }).inferwatch === PROTOCOL;
