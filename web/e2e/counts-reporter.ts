/**
 * Writes "passed=N failed=M skipped=K" to $TEST_COUNTS_FILE, which scripts/test.sh's `counted`
 * adds to the repo's totals. A test that passed on its retry counts as passed (the list
 * reporter marks it flaky); an error outside the tests (the global setup, a worker) as a failure.
 */
import { writeFileSync } from 'node:fs';
import type { FullResult, Reporter, TestCase, TestError } from '@playwright/test/reporter';

export default class CountsReporter implements Reporter {
  #tests: TestCase[] = [];
  #errors = 0;

  onTestEnd(test: TestCase) {
    if (!this.#tests.includes(test)) this.#tests.push(test);
  }

  onError(_error: TestError) {
    this.#errors++;
  }

  onEnd(_result: FullResult) {
    const outcomes = this.#tests.map((t) => t.outcome());
    const passed = outcomes.filter((o) => o === 'expected' || o === 'flaky').length;
    const failed = outcomes.filter((o) => o === 'unexpected').length + this.#errors;
    const skipped = outcomes.filter((o) => o === 'skipped').length;
    const file = process.env.TEST_COUNTS_FILE;
    if (file) writeFileSync(file, `passed=${passed} failed=${failed} skipped=${skipped}\n`);
  }
}
