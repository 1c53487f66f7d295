// Which test files the unit tier (`npm run test:unit`) leaves to the full suite (`npm test`), and why.
// Every other file is in the unit tier: it runs in its test process and starts no program (not even
// Node), but for a system binary reached through test/helpers/binaries.ts, which the unit tier skips
// (counted, with a note), and the tests' own fake nvidia-smi. test/helpers/tier-guard.ts holds every
// such file to that in both tiers, so a file that starts a program fails, naming itself, until it is listed here.

export const UNIT_TIER_ENV = 'INFERWATCH_TEST_TIER';

export const FULL_ONLY: Record<string, string> = {
  'test/faults/soak.test.ts': 'the soak: thousands of requests from forked clients',
  'test/faults/gateway.test.ts': 'bursts of a hundred misbehaving clients, and deadlines waited out',
  'test/faults/json-attack.test.ts': 'timing against a quiet machine (runs alone)',
  'test/truth/event-loop.test.ts': 'timing against a quiet machine (runs alone)',
  'test/truth/ttft.test.ts': 'load from three processes for 10 s, timed against the client',
  'test/dashboards/prometheus.test.ts': 'prometheus',
  'test/dashboard-page/prometheus.test.ts': 'prometheus',
  'test/tracing/prometheus-exemplars.test.ts': 'prometheus',
  'test/llama/dashboards.test.ts': 'prometheus and llama inference',
  'test/dashboard-page/browser.test.ts': 'chromium',
  'test/packaging-install.test.ts': 'npm install of the packed tarballs',
  'test/dashboard-page/package.test.ts': 'npm pack',
  'test/demo.test.ts': 'the demo: pnpm install and build',
  'test/llama/server.test.ts': 'llama inference (runs alone)',
  'test/llama/pool.test.ts': 'llama inference',
  'test/llama/tiny-model.test.ts': 'llama inference',
  'test/typecheck.test.ts': 'the whole repository through tsc (npm run typecheck does the same)',
  'test/packaging.test.ts': 'Node processes loading the built packages',
  'test/readme.test.ts': 'a Node process running the README snippet',
  'test/examples.test.ts': 'the example programs, each its own Node process',
  'test/gateway/gateway.test.ts': 'the simulated engine process',
  'test/gateway/failures.test.ts': 'the simulated engine and gateway processes',
  'test/gateway/attributes.test.ts': 'the gateway process',
  'test/gateway/cli.test.ts': 'the gateway and engine processes',
  'test/tracing/gateway.test.ts': 'the gateway and engine processes',
  'test/truth/gateway-gpu.test.ts': 'the gateway process',
  'test/truth/gateway-log-line.test.ts': 'the gateway and engine processes',
  'test/sdk/start-failures.test.ts': 'Node processes that start the SDK and exit',
  'test/gpu/resources.test.ts': 'a Node process hosting the GPU poller, killed',
  'test/cluster/worker-gone.test.ts': 'a node:cluster app whose worker closes its channel',
  'test/cluster/cluster.test.ts': 'a node:cluster app of 4 workers under load, one killed, and prometheus',
  'test/truth/native-histograms.test.ts': 'prometheus, the gateway and two engines under load (runs alone)',
  'test/truth/event-loop-readers.test.ts': 'a Node process whose event loop is blocked, scraped by two readers',
  'test/llama/openai-options.test.ts': 'the llama and simulated engine servers',
  'test/alerts/live.test.ts': 'prometheus, two gateways and two simulated engines, with faults injected',
};

// The unit tier runs its files several to a process, one after another (vitest's isolate: false): each
// process loads the SDK once, which halves the tier's CPU time. These files run in a process of their
// own all the same: they read what is printed (stderr, the diag logger), and the SDK prints each kind of
// notice once per process; or they set process-wide OpenTelemetry globals. test/tiers.test.ts
// fails a unit-tier file that reads what is printed, and test/helpers/tier-guard.ts one that leaves
// process-wide state behind, until it is listed here.
export const OWN_PROCESS: Record<string, string> = {
  'test/sdk/notices.test.ts': 'reads stderr, where each kind of notice is printed once per process',
  'test/sdk/global-provider.test.ts': 'registers the global MeterProvider, and reads the diag logger',
  'test/sdk/external-provider.test.ts': "registers the app's NodeSDK globally, and reads the diag logger",
  'test/sdk/tracing-setup.test.ts': 'registers global tracer providers',
  'test/sdk/spans.test.ts': 'registers a global tracer provider',
  'test/sdk/outcomes.test.ts': 'reads the diag logger',
  'test/sdk/request-attributes.test.ts': 'reads the diag logger',
  'test/http/parser-first.test.ts': 'reads the diag logger',
  'test/dashboard-page/handler.test.ts': 'reads stderr, where each kind of notice is printed once per process',
};
