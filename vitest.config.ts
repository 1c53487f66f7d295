import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import LongestFirst from './test/sequencer.js';
import { OWN_PROCESS } from './test/tiers.js';

// Files that compare wall-clock figures with each other (server against client, a blocked loop against
// a quiet one) run after the rest and alone: on two cores a neighbour's burst would land inside their windows.
// The soak too: 500 streams whose upstream shares the test's event loop failed some requests when five other files
// shared the two cores, and passed alone. And the live alerts: their healthy phase holds TTFT under its 1 s
// objective and every 250 ms scrape within its timeout, which a loaded machine broke (targets down, TTFT burn).
// And the cluster's proof, five processes under 100 req/s whose Prometheus rate must match its client's within
// 2 %: beside the other files it missed by 7 %, and its load pushed their Prometheus scrapes past their timeouts.
// And the page against PromQL over the same samples: each snapshot must be taken just before its scrape, which a
// scrape slowed past Prometheus' 1 s timeout on a loaded machine broke (page and PromQL 0.05 apart, 2 runs of 4).
const ALONE = [
  'test/truth/event-loop.test.ts',
  'test/faults/json-attack.test.ts',
  'test/llama/server.test.ts',
  'test/truth/native-histograms.test.ts',
  'test/faults/soak.test.ts',
  'test/alerts/live.test.ts',
  'test/cluster/cluster.test.ts',
  'test/dashboard-page/prometheus.test.ts',
];
// The TTFT truth test spends most of its time waiting at 5 req/s, and its checks pair each figure with
// its own control (the client's times counted in the same buckets, a gateway without blocks): it shares
// the machine with the type-check only, which then costs the other files no CPU.
const BESIDE = ['test/truth/ttft.test.ts', 'test/typecheck.test.ts'];

type Project = { extends: true; test: Record<string, unknown> };

/**
 * The suite, less the files in `leaveOut`; `env` reaches every test process. `npm test` runs all of it
 * (this file's default); vitest.unit.config.ts reuses it for the unit tier (`tier` names it in the summary).
 * With `shareProcesses`, the shared files run several to a process (all but OWN_PROCESS, test/tiers.ts),
 * on `maxWorkers` processes. Four at a time: six on two cores slowed the Prometheus tests' scrapes past their
 * timeouts and the servers' latencies past their clients' bounds.
 */
export function suite({ tier, leaveOut = [], env = {}, shareProcesses = false, maxWorkers = 4 }: { tier?: string; leaveOut?: string[]; env?: Record<string, string>; shareProcesses?: boolean; maxWorkers?: number } = {}) {
  const own = Object.keys(OWN_PROCESS);
  const shared: Project[] = shareProcesses
    ? [
        { extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: [...ALONE, ...BESIDE, ...leaveOut, ...own], isolate: false, maxWorkers, sequence: { groupOrder: 0 } } },
        { extends: true, test: { name: 'own-process', include: own, exclude: leaveOut, maxWorkers, sequence: { groupOrder: 0 } } },
      ]
    : // The rest wait on sockets, timers and child processes far more than they compute: several files at once.
      [{ extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: [...ALONE, ...BESIDE, ...leaveOut], maxWorkers, sequence: { groupOrder: 0 } } }];
  return defineConfig({
    resolve: {
      // Tests exercise the sources (the GPU poller's worker excepted: it runs built);
      // test/packaging.test.ts loads the built ESM and CJS files.
      alias: {
        '@inferwatch/sdk/internal': fileURLToPath(new URL('./packages/sdk/src/internal.ts', import.meta.url)),
        '@inferwatch/sdk': fileURLToPath(new URL('./packages/sdk/src/index.ts', import.meta.url)),
        '@inferwatch/http': fileURLToPath(new URL('./packages/http/src/index.ts', import.meta.url)),
        '@inferwatch/client': fileURLToPath(new URL('./packages/client/src/index.ts', import.meta.url)),
        '@inferwatch/loadgen': fileURLToPath(new URL('./packages/loadgen/src/index.ts', import.meta.url)),
        '@inferwatch/llama-cpp': fileURLToPath(new URL('./packages/llama-cpp/src/index.ts', import.meta.url)),
      },
    },
    test: {
      testTimeout: 30_000,
      hookTimeout: 60_000,
      pool: 'forks',
      env,
      // Fails a unit-tier file that starts a program or leaves process-wide state behind (test/tiers.ts), in either tier.
      setupFiles: ['./test/helpers/tier-guard.ts'],
      reporters: ['default', ['./test/summary-reporter.ts', { tier: tier && { name: tier, leftOut: leaveOut.length } }]],
      sequence: { sequencer: LongestFirst },
      projects: [
        ...shared,
        { extends: true, test: { name: 'beside', include: BESIDE, exclude: leaveOut, maxWorkers: 2, sequence: { groupOrder: 1 } } },
        { extends: true, test: { name: 'alone', include: ALONE, exclude: leaveOut, maxWorkers: 1, sequence: { groupOrder: 2 } } },
      ],
    },
  });
}

export default suite();
