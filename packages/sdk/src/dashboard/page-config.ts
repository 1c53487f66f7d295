// What the handler writes into the live page beside its code: the page (a browser bundle) type-checks
// against this file alone.

/** The objectives the live page reports on, defaults filled in. */
export interface SloSettings {
  ttft?: { objective: number; thresholdSeconds: number };
  availability?: { objective: number };
}

export interface PageConfig {
  slo: SloSettings;
}
