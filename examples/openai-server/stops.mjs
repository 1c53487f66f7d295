// Stop sequences, applied to generated text as it streams, the way vLLM applies them: the text up to the
// first stop sequence is sent and the stop sequence itself is not. Text that may be the start of a stop
// sequence is held back until the next token says whether it is.

/**
 * For each position of `s`, the length of the longest proper prefix of `s` that ends there (KMP).
 * @param {string} s
 * @returns {number[]}
 */
function prefixFunction(s) {
  const pi = new Array(s.length).fill(0);
  for (let i = 1, k = 0; i < s.length; i++) {
    while (k > 0 && s[i] !== s[k]) k = pi[k - 1];
    if (s[i] === s[k]) k++;
    pi[i] = k;
  }
  return pi;
}

/**
 * A scanner for `stops` (non-empty strings). `push(text)` takes the next generated text and returns
 * what may be sent now; once a stop sequence has appeared, `stopped` is true and the rest is dropped.
 * `flush()` returns what is still held back, for a generation that ended without a stop sequence.
 * Each stop sequence is matched by its own automaton kept across pushes, so a push costs its length
 * times the number of stop sequences, however long they are.
 * @param {readonly string[]} stops
 */
export function stopScanner(stops) {
  const matchers = stops.map((s) => ({ s, pi: prefixFunction(s), matched: 0 }));
  let held = '';
  let stopped = false;
  return {
    get stopped() {
      return stopped;
    },
    /**
     * @param {string} text
     * @returns {string}
     */
    push(text) {
      if (stopped) return '';
      if (matchers.length === 0) return text;
      const all = held + text;
      for (let i = 0; i < text.length; i++) {
        const c = text[i];
        /** @type {(typeof matchers)[number] | undefined} */
        let found;
        for (const m of matchers) {
          while (m.matched > 0 && m.s[m.matched] !== c) m.matched = m.pi[m.matched - 1];
          if (m.s[m.matched] === c) m.matched++;
          // Two ending on the same character: the longer one began first.
          if (m.matched === m.s.length && (found === undefined || m.s.length > found.s.length)) found = m;
        }
        if (found !== undefined) {
          stopped = true;
          const end = held.length + i + 1;
          held = '';
          return all.slice(0, end - found.s.length);
        }
      }
      // Every matcher's state is the longest end of the text that begins its stop sequence.
      const keep = Math.max(...matchers.map((m) => m.matched));
      held = all.slice(all.length - keep);
      return all.slice(0, all.length - keep);
    },
    flush() {
      const rest = stopped ? '' : held;
      held = '';
      return rest;
    },
  };
}
