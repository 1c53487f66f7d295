// How the page writes numbers: one function for legends, tooltips, stats and axes, and the ticks
// count axes sit on. Pure, so it is tested in node (test/dashboard-page/format.test.ts).

export type Unit = 's' | 'rate' | 'ratio' | 'count' | 'W' | 'C';

/**
 * Three significant digits with trailing zeros dropped (0.25, 1.2, 12, 250, 1.25), whole numbers from
 * 100 up: a latency of 0.25 ms and a tick at 0.2 ms both keep the digits that tell them apart, and
 * float noise such as 0.30000000000000004 does not show.
 */
function digits(v: number): string {
  if (Math.abs(v) >= 100) return String(Math.round(v));
  // Below toPrecision's fixed-point range (1e-6) the value is noise next to what the panels show.
  if (Math.abs(v) < 1e-6) return '0';
  const fixed = v.toPrecision(3);
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

// The next unit up starts where rounding to three digits would reach 1000 ("1k", not "1000").
const NEXT = 999.5;

/** Thousands and millions as k and M (1.23k, 12.3k), so a tokens/s axis stays narrow. */
function scaled(v: number): string {
  const a = Math.abs(v);
  if (a >= NEXT * 1e3) return `${digits(v / 1e6)}M`;
  if (a >= NEXT) return `${digits(v / 1e3)}k`;
  return digits(v);
}

export function format(v: number | null | undefined, unit: Unit): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  switch (unit) {
    case 's':
      return Math.abs(v) >= NEXT / 1000 ? `${digits(v)} s` : `${digits(v * 1000)} ms`;
    case 'ratio':
      return `${digits(v * 100)}%`;
    case 'W':
      return `${digits(v)} W`;
    case 'C':
      return `${digits(v)} °C`;
    default:
      return scaled(v);
  }
}

/** 1, 2 and 5 times the powers of ten from 1 up: the steps a count axis chooses between. */
export const COUNT_INCRS: number[] = Array.from({ length: 30 }, (_, i) => [1, 2, 5][i % 3] * 10 ** Math.floor(i / 3));

/**
 * The ticks of a count axis in [min, max]: multiples of a whole step (uPlot's chosen increment, at
 * least 1), so requests running or waiting get one tick per label and never "1, 1, 1, 0, 0".
 */
export function countSplits(min: number, max: number, incr: number): number[] {
  const step = Math.max(1, Math.round(incr));
  const out: number[] = [];
  if (!Number.isFinite(min) || !Number.isFinite(max)) return out;
  for (let v = Math.ceil(min / step) * step; v <= max; v += step) out.push(v);
  return out;
}

/**
 * An SLO's compliance, to two decimals rounded down: 99.996 % reads 99.99 %, never 100 %, which would say
 * no request missed.
 */
export function compliance(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '–';
  // The epsilon keeps float noise (0.57 × 10 000 = 5699.999…) from taking a hundredth off.
  return `${(Math.floor(v * 10_000 + 1e-6) / 100).toFixed(2)}%`;
}
