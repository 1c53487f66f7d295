// Bearer-token checks in constant time: every accepted token is compared, each through its SHA-256
// (equal lengths for timingSafeEqual, and no early exit on the first byte that differs).
import { createHash, timingSafeEqual } from 'node:crypto';

/** @param {string} text */
const digest = (text) => createHash('sha256').update(text).digest();

/**
 * A test of a request's `Authorization: Bearer <token>` against `tokens`; undefined when there are none (open).
 * @param {readonly unknown[]} tokens  only non-empty strings are accepted
 * @returns {((req: import('node:http').IncomingMessage) => boolean) | undefined}
 */
export function bearerCheck(tokens) {
  const accepted = tokens.filter(/** @returns {t is string} */ (t) => typeof t === 'string' && t !== '').map(digest);
  if (accepted.length === 0) return undefined;
  return (req) => {
    const match = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
    const presented = digest(match?.[1]?.trim() ?? '');
    let ok = false;
    for (const token of accepted) ok = timingSafeEqual(token, presented) || ok;
    return ok && match !== null;
  };
}
