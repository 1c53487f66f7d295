import { describe, type Notices } from '../record/notices.js';
import type { SloSettings } from './page-config.js';

/**
 * `dashboard: { slo }`: the objectives the live page shows compliance and error budget for, since the
 * process started. The defaults are docs/alerts.md's: 99 % of requests with a first token within 1 s, and
 * 99 % of eligible requests not failed (cancellations and 4xx other than 429 are not eligible). Over classic
 * histograms a TTFT threshold between two bucket bounds is interpolated, as histogram_fraction does.
 */
export type SloOptions =
  | false
  | {
      /** `false` leaves it out. */
      ttft?: false | { objective?: number; thresholdSeconds?: number };
      availability?: false | { objective?: number };
    };

const DEFAULTS = { objective: 0.99, thresholdSeconds: 1 };

function field(value: unknown, fallback: number, valid: (n: number) => boolean, where: string, notices: Notices): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && valid(value)) return value;
  notices.warn(`dashboard_slo:${where}`, `startMetrics({ dashboard: { slo } }): ${where} must be ${where.endsWith('objective') ? 'a number between 0 and 1' : 'a positive number of seconds'}, not ${describe(value)}; using ${fallback}`);
  return fallback;
}

const isObjective = (n: number) => n > 0 && n < 1;
const isSeconds = (n: number) => n > 0 && Number.isFinite(n);
const objectOr = (value: unknown) => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {});

/** The settings the page gets from `options` (defaults filled in; a bad value said once and replaced by its default). */
export function sloSettings(options: unknown, notices: Notices): SloSettings {
  if (options === false) return {};
  const o = objectOr(options);
  const out: SloSettings = {};
  if (o.ttft !== false) {
    const t = objectOr(o.ttft);
    out.ttft = {
      objective: field(t.objective, DEFAULTS.objective, isObjective, 'ttft.objective', notices),
      thresholdSeconds: field(t.thresholdSeconds, DEFAULTS.thresholdSeconds, isSeconds, 'ttft.thresholdSeconds', notices),
    };
  }
  if (o.availability !== false) out.availability = { objective: field(objectOr(o.availability).objective, DEFAULTS.objective, isObjective, 'availability.objective', notices) };
  return out;
}
