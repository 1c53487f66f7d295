// The report's closing notes: what stands in the way of each goal not met, and the floor on this machine.
const f = (x) => String(x);
const spread = (xs) => Math.max(...xs) / Math.min(...xs);

export function notes(r) {
  const lines = ['## Notes on the goals', ''];
  lines.push(
    `- **Floors.** One clock read costs ${f(r.clock_ns_per_read)} ns here. \`tokens()\` without a timestamp reads it once per call, so ` +
      `\`sdk_ns_per_token\` cannot go below it; the SSE tap reads it once per upstream read, and the SSE benchmark feeds one event per ` +
      `read (the worst case), so one clock read is part of every \`sse_tap_ns_per_chunk\`. The rest of a tapped chunk is a byte ` +
      `comparison of the event's prefix and suffix with the stream's last event of the same shape (one native call, one short loop), a ` +
      `scan of the delta alone, and the token's recording; the native call's overhead is the largest part of it.`,
  );
  lines.push(
    `- **Scrape.** The exposition is written as bytes straight from the recorder's typed arrays (label bytes cached per series, digits ` +
      `written in place), so the event-loop block is the writer alone (${f(r.scrape_eventloop_block_ms_50_models)} ms median, ${f(r.scrape_eventloop_block_ms_50_models_max)} ms worst). ` +
      `\`scrape_ms_50_models\` is measured by a client in another process and includes moving ${f(r.scrape_bytes_50_models)} bytes over loopback; gzip (` +
      `${f(r.scrape_bytes_50_models_gzip)} bytes, compressed off the event loop) is what Prometheus asks for, and the figure a scraper sees.`,
  );
  lines.push(
    `- **Gateway.** Without the SDK the gateway moves a chunk every ${f(Math.round(1e6 / r.gateway_tokens_per_s_sdk_off * 10) / 10)} µs (one process, saturated); ` +
      `the SDK adds the tap (\`sse_tap_ns_per_chunk\`) and, per request, a lifecycle (\`sdk_ns_per_request\`), so its expected cost is their ` +
      `share of that time. On a machine shared with other work the two modes' rounds see different neighbours, and a ratio within a ` +
      `few percent of 1 is inside the noise: compare rounds, or re-run on a quiet machine.` +
      (r.gateway_tokens_per_s_sdk_on_rounds
        ? ` In this run the rounds ranged over ${f(Math.min(...r.gateway_tokens_per_s_sdk_on_rounds))}–${f(Math.max(...r.gateway_tokens_per_s_sdk_on_rounds))} tokens/s ` +
          `with the SDK and ${f(Math.min(...r.gateway_tokens_per_s_sdk_off_rounds))}–${f(Math.max(...r.gateway_tokens_per_s_sdk_off_rounds))} without` +
          (spread(r.gateway_tokens_per_s_sdk_off_rounds) > 1.1
            ? `: a spread ${f(Math.round(spread(r.gateway_tokens_per_s_sdk_off_rounds) * 10) / 10)}× wide within one mode, so this run's ratio says nothing at the 2 % level.`
            : '.')
        : ''),
  );
  lines.push(
    `- **Batched tokens.** \`sdk_ns_per_token_batched\` records an inter-token latency with a realistic value for a different request ` +
      `each call (64 in turn), so it pays a bucket search (18 buckets, linear) and a cache line per request that the previous benchmark ` +
      `(one request, zero gaps, first bucket) did not.`,
  );
  lines.push('');
  return lines.join('\n');
}
