// parse-prometheus-text-format 1.1.1 ships no types: its output, as its README shows it (every number a string).
declare module 'parse-prometheus-text-format' {
  /** One series of a family: `value` for counters, gauges and untyped; `buckets`, `quantiles`, `count` and `sum` for histograms and summaries. */
  export interface PrometheusSample {
    labels?: Record<string, string>;
    value?: string;
    buckets?: Record<string, string>;
    quantiles?: Record<string, string>;
    count?: string;
    sum?: string;
  }

  export interface PrometheusFamily {
    name: string;
    help: string;
    /** `COUNTER`, `GAUGE`, `HISTOGRAM`, `SUMMARY` or `UNTYPED`. */
    type: string;
    metrics: PrometheusSample[];
  }

  /** Parses a text exposition; throws on what it cannot read. */
  export default function parsePrometheusTextFormat(text: string): PrometheusFamily[];
}
