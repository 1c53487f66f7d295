import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ROUNDS } from './constants.mjs';

/** Nanoseconds per call of `fn(i)` over `iterations` calls. */
export function nsPerCall(fn, iterations) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn(i);
  return Number(process.hrtime.bigint() - start) / iterations;
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}


/**
 * Runs each contender (`[fn, iterations]`) in turn, `rounds` times, so drift (thermal, GC, noisy
 * neighbours) hits them alike; returns the median ns per call of each.
 */
export function compare(contenders, rounds = ROUNDS) {
  const entries = Object.entries(contenders);
  const samples = Object.fromEntries(entries.map(([name]) => [name, []]));
  for (const [, [fn, iterations]] of entries) nsPerCall(fn, Math.ceil(iterations / 5)); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const [name, [fn, iterations]] of entries) samples[name].push(nsPerCall(fn, iterations));
  }
  return Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
}

const CONTENDER = fileURLToPath(new URL('./contender.mjs', import.meta.url));

/**
 * Like `compare`, but every round of every contender runs in a fresh process (bench/contender.mjs),
 * round-robin: no contender's heap, garbage or JIT state reaches another's measurement, and drift
 * still hits them alike. Returns the median ns per call of each.
 */
export function compareInProcesses(suite, iterations, rounds = ROUNDS) {
  const samples = Object.fromEntries(Object.keys(iterations).map((name) => [name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, n] of Object.entries(iterations)) {
      const out = execFileSync(process.execPath, [CONTENDER, suite, name, String(n)], { encoding: 'utf8' });
      samples[name].push(JSON.parse(out).ns);
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
}

export const round = (x, digits = 1) => Number(x.toFixed(digits));
