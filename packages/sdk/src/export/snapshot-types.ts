// The live page's contract, apart from the code that builds it: the page (a browser bundle) type-checks
// against this file alone, without the Node modules the snapshot is collected with.
import type { Attributes } from '@opentelemetry/api';

/**
 * The page's view of one collection: cumulative counters and histogram buckets and current gauges,
 * per series, as the exporters see them. Rates and quantiles are the reader's job (query/promql.ts).
 */
export interface Snapshot {
  /** Unix milliseconds of the collection. */
  t: number;
  /** `service.name` of the process. */
  service: string;
  metrics: SnapshotMetric[];
}

export interface SnapshotMetric {
  /** OTel name, e.g. `gen_ai.server.time_to_first_token`. */
  name: string;
  unit: string;
  /** `counter` (monotonic sum), `gauge` (gauges and up-down sums) or `histogram`. */
  kind: 'counter' | 'gauge' | 'histogram';
  points: SnapshotPoint[];
}

export interface SnapshotPoint {
  attributes: Attributes;
  /** Counter or gauge value. */
  value?: number;
  /** Classic histogram: finite upper bounds; `counts` has one more entry, for +Inf. Counts are per bucket, not cumulative. */
  bounds?: number[];
  /** Per bucket: classic (with `bounds`) or native (with `scale`, from bucket `offset`). */
  counts?: number[];
  /** Native histogram: bucket `offset + i` holds (2^((offset+i)/2^scale), 2^((offset+i+1)/2^scale)]; zeros apart. */
  scale?: number;
  offset?: number;
  zeroCount?: number;
  sum?: number;
  count?: number;
}
