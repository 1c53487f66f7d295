/**
 * The one table of the metric families a recorder exports, and how each reads its points from the
 * recorder's aggregates. Every writer (the OTel producer, the Prometheus text and protobuf writers)
 * walks this table, so a family added or changed here reaches every export path alike.
 */
import { ValueType, type Attributes } from '@opentelemetry/api';
import type { Histogram } from '../aggregator/histogram.js';
import {
  ATTR_ERROR_TYPE,
  ATTR_FINISH_REASON,
  ATTR_MISUSE_REASON,
  ATTR_TOKEN_TYPE,
  CLIENT_HISTOGRAMS,
  COUNTERS,
  FINISH_REASONS,
  GAUGES,
  HISTOGRAMS,
  type GaugeKey,
  type HistogramSpec,
  type ScalarSpec,
} from '../record/catalog.js';
import type { ClientSeries } from '../record/client.js';
import type { EngineSource } from '../record/engine-state.js';
import { currentGauges, type GaugeView } from '../record/gauges.js';
import { MISUSE_REASONS, type MisuseLog } from '../record/notices.js';
import type { Series } from '../record/series.js';

/**
 * A label a family adds to a series' own (a token type, a finish reason, an error type). Interned, one
 * object per label, so writers can cache a series' encoded labels per extra label by identity.
 */
export interface ExtraLabel {
  readonly key: string;
  readonly value: string;
}

/** What one recorder holds at a collection, read once: its series, its gauges as they stand, its misuse counts. */
export interface RecorderView {
  readonly series: readonly Series[];
  readonly gauges: GaugeView;
  readonly misuse: ArrayLike<number>;
}

/** What the writers read of a recorder (or of a cluster's group of them): its aggregates, never its handles. */
export interface RecorderSource {
  readonly series: ReadonlyMap<string, Series>;
  readonly engine: EngineSource;
  readonly misuse: Pick<MisuseLog, 'counts'>;
}

/** A recorder's view now. Gauges are read first: an engine callback can itself count misuse, which must show in this same view. */
export function viewOf(source: RecorderSource): RecorderView {
  const series = [...source.series.values()];
  const gauges = currentGauges(series, source.engine);
  return { series, gauges, misuse: source.misuse.counts };
}

/** Reports one point: the series' attributes (an object whose identity is stable while the series lives), an extra label, the value. */
export type Emit<V> = (attributes: Attributes, extra: ExtraLabel | undefined, value: V) => void;

interface FamilyBase {
  readonly spec: HistogramSpec | ScalarSpec;
  /** Gauges leave their family out when it has no point; counters and histograms always write theirs. */
  readonly kind: 'histogram' | 'counter' | 'gauge';
  readonly valueType: ValueType;
}
export interface HistogramFamily<View> extends FamilyBase {
  readonly kind: 'histogram';
  readonly points: (view: View, emit: Emit<Histogram>) => void;
}
export interface ScalarFamily<View> extends FamilyBase {
  readonly kind: 'counter' | 'gauge';
  readonly points: (view: View, emit: Emit<number>) => void;
}
export type Family<View> = HistogramFamily<View> | ScalarFamily<View>;

const label = (key: string, value: string): ExtraLabel => Object.freeze({ key, value });
const INPUT = label(ATTR_TOKEN_TYPE, 'input');
const OUTPUT = label(ATTR_TOKEN_TYPE, 'output');
const FINISHED = FINISH_REASONS.map((reason) => label(ATTR_FINISH_REASON, reason));
const MISUSE = MISUSE_REASONS.map((reason) => label(ATTR_MISUSE_REASON, reason));
const NO_ATTRIBUTES: Attributes = Object.freeze({});

/**
 * The `error.type` label of each error type, interned per type. Each recorder bounds its own error types;
 * this bound keeps many recorders from growing the table: past it, labels are made per call (still right,
 * just not cached by the writers).
 */
const errorLabels = new Map<string, ExtraLabel>();
const MAX_INTERNED_ERRORS = 1024;
function errorLabel(type: string): ExtraLabel {
  let extra = errorLabels.get(type);
  if (extra === undefined) {
    extra = label(ATTR_ERROR_TYPE, type);
    if (errorLabels.size < MAX_INTERNED_ERRORS) errorLabels.set(type, extra);
  }
  return extra;
}

function perSeries(spec: HistogramSpec, pick: (s: Series) => Histogram): HistogramFamily<RecorderView> {
  return {
    spec,
    kind: 'histogram',
    valueType: ValueType.DOUBLE,
    points: (view, emit) => {
      for (const s of view.series) emit(s.attributes, undefined, pick(s));
    },
  };
}

const gauge = (key: GaugeKey): ScalarFamily<RecorderView> => ({
  spec: GAUGES[key],
  kind: 'gauge',
  valueType: ValueType.DOUBLE,
  points: (view, emit) => {
    for (const point of view.gauges[key]) emit(point.attributes, undefined, point.value);
  },
});

/** Every family of a recorder, in exposition order. */
export const RECORDER_FAMILIES: ReadonlyArray<Family<RecorderView>> = [
  {
    spec: HISTOGRAMS.requestDuration,
    kind: 'histogram',
    valueType: ValueType.DOUBLE,
    points: (view, emit) => {
      for (const s of view.series) {
        emit(s.attributes, undefined, s.requestDuration);
        for (const [type, h] of s.errorDurations) emit(s.attributes, errorLabel(type), h);
      }
    },
  },
  perSeries(HISTOGRAMS.timeToFirstToken, (s) => s.timeToFirstToken),
  perSeries(HISTOGRAMS.timePerOutputToken, (s) => s.timePerOutputToken),
  perSeries(HISTOGRAMS.interTokenLatency, (s) => s.interTokenLatency),
  perSeries(HISTOGRAMS.queueDuration, (s) => s.queueDuration),
  perSeries(HISTOGRAMS.inferenceDuration, (s) => s.inferenceDuration),
  perSeries(HISTOGRAMS.prefillDuration, (s) => s.prefillDuration),
  perSeries(HISTOGRAMS.decodeDuration, (s) => s.decodeDuration),
  {
    spec: HISTOGRAMS.tokenUsage,
    kind: 'histogram',
    valueType: ValueType.INT,
    points: (view, emit) => {
      for (const s of view.series) {
        emit(s.attributes, INPUT, s.inputTokenUsage);
        emit(s.attributes, OUTPUT, s.outputTokenUsage);
      }
    },
  },
  {
    spec: COUNTERS.tokens,
    kind: 'counter',
    valueType: ValueType.INT,
    points: (view, emit) => {
      for (const s of view.series) {
        emit(s.attributes, INPUT, s.promptTokens);
        emit(s.attributes, OUTPUT, s.outputTokens);
      }
    },
  },
  {
    spec: COUNTERS.finished,
    kind: 'counter',
    valueType: ValueType.INT,
    points: (view, emit) => {
      for (const s of view.series) for (let i = 0; i < FINISHED.length; i++) emit(s.attributes, FINISHED[i], s.finished[i]);
    },
  },
  {
    spec: COUNTERS.preemptions,
    kind: 'counter',
    valueType: ValueType.INT,
    points: (view, emit) => {
      for (const s of view.series) emit(s.attributes, undefined, s.preemptions);
    },
  },
  {
    spec: COUNTERS.misuse,
    kind: 'counter',
    valueType: ValueType.INT,
    points: (view, emit) => {
      for (let i = 0; i < MISUSE.length; i++) emit(NO_ATTRIBUTES, MISUSE[i], view.misuse[i]);
    },
  },
  ...(Object.keys(GAUGES) as GaugeKey[]).map(gauge),
];

/** The client recorder's series at a collection. */
export interface ClientView {
  readonly series: readonly ClientSeries[];
}

const clientHistogram = (spec: HistogramSpec, pick: (s: ClientSeries) => Histogram): HistogramFamily<ClientView> => ({
  spec,
  kind: 'histogram',
  valueType: ValueType.DOUBLE,
  points: (view, emit) => {
    for (const s of view.series) emit(s.attributes, undefined, pick(s));
  },
});

/** Every family of a client recorder. */
export const CLIENT_FAMILIES: ReadonlyArray<Family<ClientView>> = [
  {
    spec: CLIENT_HISTOGRAMS.operationDuration,
    kind: 'histogram',
    valueType: ValueType.DOUBLE,
    points: (view, emit) => {
      for (const s of view.series) {
        emit(s.attributes, undefined, s.duration);
        for (const [type, h] of s.errors) emit(s.attributes, errorLabel(type), h);
      }
    },
  },
  {
    spec: CLIENT_HISTOGRAMS.tokenUsage,
    kind: 'histogram',
    valueType: ValueType.INT,
    points: (view, emit) => {
      for (const s of view.series) {
        emit(s.attributes, INPUT, s.inputTokens);
        emit(s.attributes, OUTPUT, s.outputTokens);
      }
    },
  },
  clientHistogram(CLIENT_HISTOGRAMS.timeToFirstChunk, (s) => s.firstChunk),
  clientHistogram(CLIENT_HISTOGRAMS.timePerOutputChunk, (s) => s.perChunk),
];
