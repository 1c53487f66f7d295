import { BaseSequencer, type TestSpecification } from 'vitest/node';

// The files that take longest start first, so the shared group ends with short ones filling the gaps
// instead of with one long file alone. Vitest orders by the last run's durations where it has them; a
// fresh clone has none, so this order holds everywhere.
const LONGEST = [
  'test/faults/soak.test.ts',
  'test/dashboards/prometheus.test.ts',
  'test/alerts/live.test.ts',
  'test/dashboard-page/browser.test.ts',
  'test/packaging-install.test.ts',
  'test/dashboard-page/prometheus.test.ts',
  'test/faults/gateway.test.ts',
  'test/llama/dashboards.test.ts',
  'test/gateway/failures.test.ts',
  'test/http/frameworks.test.ts',
  'test/gateway/gateway.test.ts',
  'test/demo.test.ts',
  'test/sdk/exposition.test.ts',
  'test/alerts/rules.test.ts',
];

const rank = (spec: TestSpecification) => {
  const i = LONGEST.findIndex((file) => spec.moduleId.endsWith(file));
  return i < 0 ? LONGEST.length : i;
};

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const groupOf = (spec: TestSpecification) => spec.project.config.sequence.groupOrder;
    return sorted
      .map((spec, i) => ({ spec, i }))
      .sort((a, b) => groupOf(a.spec) - groupOf(b.spec) || rank(a.spec) - rank(b.spec) || a.i - b.i)
      .map(({ spec }) => spec);
  }
}
