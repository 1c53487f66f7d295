// The report's closing notes: what stands in the way of each goal not met, and the floor on this machine.
import { TENANT_MODELS, TENANTS } from './scrape-data.mjs';
const f = (x) => String(x);
const spread = (xs) => Math.max(...xs) / Math.min(...xs);
const perSeries = (bytes, series) => Math.round(bytes / series);

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
      `and varints written in place), so the event-loop block is the writer alone (${f(r.scrape_eventloop_block_ms_50_models)} ms median, ${f(r.scrape_eventloop_block_ms_50_models_max)} ms worst, at 50 models; ` +
      `${f(r.scrape_eventloop_block_ms_100_models_16_tenants)} ms and ${f(r.scrape_eventloop_block_ms_100_models_16_tenants_max)} ms at ${f(r.scrape_series_100_models_16_tenants)} series). ` +
      `The scrape times are measured by a client in another process and include moving the bytes over loopback; gzip, compressed off ` +
      `the event loop, is what Prometheus asks for, and the figure a scraper sees. In the protobuf format a native histogram is one series ` +
      `whatever its buckets, but every series still carries its label pairs in full: ${f(r.scrape_label_bytes_50_models)} of the ` +
      `${f(r.scrape_bytes_50_models)} bytes at 50 models (${f(r.scrape_series_50_models)} series, ${perSeries(r.scrape_label_bytes_50_models, r.scrape_series_50_models)} bytes of labels each), ` +
      `${f(r.scrape_label_bytes_100_models_16_tenants)} of ${f(r.scrape_bytes_100_models_16_tenants)} at 100 models × 16 tenants. The rest is mostly ` +
      `buckets: a native histogram's size grows with the buckets its values populate, up to the scale's limit, which is why the ` +
      `data sets record realistic spreads rather than one value per histogram.`,
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
      `each call (64 in turn), so it pays a cache line per request and the bucket's index: in native mode from the value's exponent ` +
      `bits and a 1024-entry table of its significand's top bits, settled by one comparison with the exact boundary ` +
      `(${f(r.sdk_ns_per_token_batched)} ns), in classic mode a linear search of 18 buckets (${f(r.sdk_classic_ns_per_token_batched)} ns).`,
  );
  if (r.scrape_bytes_100_models_16_tenants !== undefined) {
    const labelShare = (bytes, labels) => `${Math.round((100 * labels) / bytes)} %`;
    lines.push(
      `- **Bytes per scrape.** Labels are what is left: ${labelShare(r.scrape_bytes_50_models, r.scrape_label_bytes_50_models)} of the ` +
        `50-model protobuf and ${labelShare(r.scrape_bytes_100_models_16_tenants, r.scrape_label_bytes_100_models_16_tenants)} at 100 models × 16 tenants. ` +
        `Both formats repeat every series' label pairs in full, and the semantic conventions' names alone ` +
        `(\`gen_ai_request_model\`, \`gen_ai_operation_name\`, \`gen_ai_provider_name\`) are 61 bytes a series before any value. ` +
        `The buckets are written as compactly as the format allows (packed deltas, short gaps kept inside a span). The series ` +
        `themselves are ${f(Math.round(r.scrape_series_100_models_16_tenants / (TENANT_MODELS * TENANTS)))} per model and tenant: ten histograms, the token, preemption ` +
        `and finish counters, three scheduler gauges, and \`inferwatch_requests_finished_total\` pre-set at 0 for each of its seven ` +
        `finish reasons, as vLLM does, so that \`rate()\` sees a reason's first request; those zeros are six series of every label set. ` +
        `Meeting the byte goals would take fewer series per label set (no zero series, or fewer histograms per request), ` +
        `signals the dashboards and alerts read; the scrape-time goals do not depend on it.`,
    );
  }
  lines.push('');
  return lines.join('\n');
}
