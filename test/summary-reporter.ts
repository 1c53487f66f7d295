import type { Reporter, TestModule } from 'vitest/node';

/**
 * Ends the run with one plain `N passed, N failed, N skipped` line that any CI log reader understands,
 * after one line per file with skipped tests and their reasons (a missing binary's note), so no skip is
 * silent, and one per file that failed outside its tests (each counted as one failure).
 */
export default class SummaryReporter implements Reporter {
  /** `tier`: a line saying which tier ran and how many files it left to `npm test`. */
  constructor(private readonly options: { tier?: { name: string; leftOut: number } } = {}) {}

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const count = { passed: 0, failed: 0, skipped: 0 };
    const lines: string[] = [];
    for (const module of testModules) {
      let skipped = 0;
      let failed = 0;
      const notes = new Set<string>();
      for (const test of module.children.allTests()) {
        const result = test.result();
        if (result.state === 'passed' || result.state === 'failed' || result.state === 'skipped') count[result.state]++;
        if (result.state === 'failed') failed++;
        if (result.state === 'skipped') {
          skipped++;
          if (result.note) notes.add(result.note);
        }
      }
      // A file that failed outside its tests (on import, or in a hook after they passed) is one failure more.
      if (module.state() === 'failed' && failed === 0) {
        count.failed++;
        lines.push(`failed outside its tests: ${module.relativeModuleId}`);
      }
      if (skipped > 0) lines.push(`skipped ${skipped} in ${module.relativeModuleId}${notes.size ? `: ${[...notes].join('; ')}` : ''}`);
    }
    const tier = this.options.tier;
    if (tier) lines.push(`${tier.name} tier: ${tier.leftOut} files left to npm test (test/tiers.ts)`);
    console.log(`\n${lines.map((l) => `${l}\n`).join('')}${count.passed} passed, ${count.failed} failed, ${count.skipped} skipped`);
  }
}
