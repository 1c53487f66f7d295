import type { Reporter, TestModule } from 'vitest/node';

/**
 * Ends the run with one plain `N passed, N failed, N skipped` line that any CI log reader understands,
 * after one line per skipped test with its reason (a missing binary's note), so a skip is never silent.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const count = { passed: 0, failed: 0, skipped: 0 };
    const skipped: string[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const result = test.result();
        if (result.state === 'passed' || result.state === 'failed' || result.state === 'skipped') count[result.state]++;
        if (result.state === 'skipped') skipped.push(`skipped: ${module.moduleId.replace(`${process.cwd()}/`, '')} > ${test.fullName}${result.note ? ` (${result.note})` : ''}`);
      }
      if (module.state() === 'failed' && [...module.children.allTests()].length === 0) count.failed++;
    }
    console.log(`\n${skipped.join('\n')}${skipped.length ? '\n' : ''}${count.passed} passed, ${count.failed} failed, ${count.skipped} skipped`);
  }
}
