/**
 * Option objects as plain values, read once, with every key checked: in plain JavaScript a misspelt
 * option (`promethus`, `servicename`) would otherwise do nothing at all, silently. Each unknown key is
 * said once, naming the known key nearest to it.
 */
import type { Notices } from '../record/notices.js';

/** Keys examined per object: a hostile object with millions of keys costs a bounded scan. */
const MAX_KEYS_CHECKED = 64;

/**
 * `value` copied as a plain object (undefined when it is not one, or its getters throw), after saying each
 * key of it that `known` lacks. `where` names the call in the message, e.g. `startMetrics({ prometheus })`.
 */
export function readOptions<K extends string>(value: unknown, where: string, known: readonly K[], notices: Notices): Partial<Record<K, unknown>> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  let copy: Record<string, unknown>;
  try {
    copy = { ...(value as Record<string, unknown>) };
  } catch {
    return undefined;
  }
  let checked = 0;
  for (const key of Object.keys(copy)) {
    if (++checked > MAX_KEYS_CHECKED) break;
    if ((known as readonly string[]).includes(key)) continue;
    const shown = JSON.stringify(key.slice(0, 64));
    const near = nearest(key, known);
    notices.warn(`option:${where}:${key.slice(0, 64)}`, `${where}: unknown option ${shown} is ignored${near === undefined ? ` (known: ${known.join(', ')})` : `; did you mean "${near}"?`}`);
  }
  return copy as Partial<Record<K, unknown>>;
}

/** The known key within a small edit distance of `key` (case aside), if any. */
function nearest(key: string, known: readonly string[]): string | undefined {
  const given = key.toLowerCase().slice(0, 64);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(given, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(given.length / 4)) ? best : undefined;
}

/** Levenshtein distance, with adjacent transpositions counted as one edit (`prot` → `port`). */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      rows[i][j] = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) rows[i][j] = Math.min(rows[i][j], rows[i - 2][j - 2] + 1);
    }
  }
  return rows[a.length][b.length];
}
