import { describe, expect, it } from 'vitest';
import { COUNT_INCRS, compliance, countSplits, format } from '../../packages/sdk/page/format.js';

describe("the page's numbers", () => {
  it('keeps the digits that tell latencies apart, without trailing zeros or float noise', () => {
    const cases: [number, string][] = [
      [0.00025, '0.25 ms'],
      [0.0012, '1.2 ms'],
      [0.012, '12 ms'],
      [0.25, '250 ms'],
      [1.25, '1.25 s'],
      [0.0001234, '0.123 ms'],
      [0.1 + 0.2, '300 ms'],
      [0, '0 ms'],
      [1, '1 s'],
      [12.5, '12.5 s'],
      [1234.4, '1234 s'],
      [0.9996, '1 s'],
    ];
    for (const [seconds, shown] of cases) expect(format(seconds, 's'), String(seconds)).toBe(shown);
  });

  it('writes rates, ratios, counts and readings the same way', () => {
    expect(format(0.0667, 'rate')).toBe('0.0667');
    expect(format(4, 'rate')).toBe('4');
    expect(format(523.7, 'rate')).toBe('524');
    expect(format(1234, 'rate')).toBe('1.23k');
    expect(format(2_500_000, 'rate')).toBe('2.5M');
    expect(format(999.7, 'rate')).toBe('1k');
    expect(format(999_700, 'rate')).toBe('1M');
    expect(format(0.005, 'ratio')).toBe('0.5%');
    expect(format(0.8734, 'ratio')).toBe('87.3%');
    expect(format(1, 'ratio')).toBe('100%');
    expect(format(3, 'count')).toBe('3');
    expect(format(72.5, 'W')).toBe('72.5 W');
    expect(format(65, 'C')).toBe('65 °C');
    for (const v of [null, undefined, NaN, Infinity]) expect(format(v, 's')).toBe('–');
  });

  it('puts count axes on whole numbers, one label per tick, whatever step it is offered', () => {
    // The scales a 0..1 or 0..7 count panel gets (max × 1.1), with the fractional steps uPlot's
    // default increments would pick for them.
    expect(countSplits(0, 1.1, 0.2)).toEqual([0, 1]);
    expect(countSplits(0, 7.7, 2)).toEqual([0, 2, 4, 6]);
    expect(countSplits(0, 3.3, 1)).toEqual([0, 1, 2, 3]);
    expect(countSplits(-2.5, 2.5, 1)).toEqual([-2, -1, 0, 1, 2]);
    expect(countSplits(0, NaN, 1)).toEqual([]);
    for (const [min, max, incr] of [[0, 1.1, 0.2], [0, 5.5, 0.5], [0, 110, 20], [3, 48, 5]]) {
      const labels = countSplits(min, max, incr).map((v) => format(v, 'count'));
      expect(new Set(labels).size, `${min}..${max} by ${incr}: ${labels.join(', ')}`).toBe(labels.length);
      for (const label of labels) expect(label).toMatch(/^-?\d+$/);
    }
    expect(COUNT_INCRS.slice(0, 7)).toEqual([1, 2, 5, 10, 20, 50, 100]);
    expect(COUNT_INCRS.every(Number.isInteger)).toBe(true);
  });

  it('writes SLO compliance to two decimals, rounded down so that a miss never reads 100 %', () => {
    expect(compliance(1)).toBe('100.00%');
    expect(compliance(0.99996)).toBe('99.99%');
    expect(compliance(0.9973)).toBe('99.73%');
    expect(compliance(0.5)).toBe('50.00%');
    expect(compliance(0.57)).toBe('57.00%');
    expect(compliance(0)).toBe('0.00%');
    expect(compliance(null)).toBe('–');
  });
});
