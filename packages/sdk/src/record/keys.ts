/**
 * Cache keys built from caller-given strings. Each part is its length, a colon and itself (`-` for no
 * string), so no two different lists of parts can spell the same key, whatever characters they hold.
 */
export function lengthPrefixed(value: unknown): string {
  return typeof value === 'string' ? `${value.length}:${value}` : '-';
}
