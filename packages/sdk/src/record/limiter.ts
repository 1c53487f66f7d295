/**
 * Keeps an attribute's value set bounded: the first `maxValues` distinct values pass (truncated to
 * `maxLength`), every later one becomes `_OTHER`: the one catch-all of the SDK, the GenAI conventions'
 * value for an error.type that names none, and a name no real model or attribute value is likely to
 * have (unlike `other`, which is also a finish reason).
 */
export const OVERFLOW_VALUE = '_OTHER';

export class ValueLimiter {
  private readonly seen = new Set<string>();

  constructor(
    private readonly maxValues: number,
    private readonly maxLength: number,
  ) {}

  admit(raw: unknown, fallback: string): string {
    let value = typeof raw === 'string' && raw.length > 0 ? raw : fallback;
    if (value.length > this.maxLength) value = value.slice(0, this.maxLength);
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.maxValues) return OVERFLOW_VALUE;
    this.seen.add(value);
    return value;
  }
}
