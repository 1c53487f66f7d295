// Cost of recording: inferwatch (native histograms, its default, and classic ones) vs plain OTel
// instruments vs prom-client (label objects, and bound children) vs @prometheus-io/client (bound
// children), same metrics, same realistic timestamps (bench/workload.mjs), each contender in its own
// process per round (bench/contender.mjs).
import { compareInProcesses, round } from './measure.mjs';

export async function lifecycleBench() {
  const perRequest = compareInProcesses('request', {
    sdk: 200_000, sdk_classic: 200_000, otel: 5_000, promclient: 10_000, promclient_bound: 50_000, prometheusio_bound: 50_000, clock: 1_000_000,
  });
  const perToken = compareInProcesses('token', {
    sdk: 2_000_000, sdk_classic: 2_000_000, sdk_batched: 2_000_000, sdk_classic_batched: 2_000_000,
    otel: 20_000, promclient: 50_000, promclient_bound: 100_000, prometheusio_bound: 100_000,
  });
  return {
    sdk_ns_per_request: round(perRequest.sdk),
    sdk_classic_ns_per_request: round(perRequest.sdk_classic),
    otel_ns_per_request: round(perRequest.otel),
    promclient_ns_per_request: round(perRequest.promclient),
    promclient_bound_ns_per_request: round(perRequest.promclient_bound),
    prometheusio_bound_ns_per_request: round(perRequest.prometheusio_bound),
    sdk_ns_per_token: round(perToken.sdk),
    sdk_classic_ns_per_token: round(perToken.sdk_classic),
    sdk_ns_per_token_batched: round(perToken.sdk_batched),
    sdk_classic_ns_per_token_batched: round(perToken.sdk_classic_batched),
    otel_ns_per_token: round(perToken.otel),
    promclient_ns_per_token: round(perToken.promclient),
    promclient_bound_ns_per_token: round(perToken.promclient_bound),
    prometheusio_bound_ns_per_token: round(perToken.prometheusio_bound),
    clock_ns_per_read: round(perRequest.clock),
  };
}
