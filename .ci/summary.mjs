// Prints vitest's JSON results as one plain line: "<label>: N passed, N failed, N skipped".
import { readFileSync } from 'node:fs';

const [label, file] = process.argv.slice(2);
const results = JSON.parse(readFileSync(file, 'utf8'));
console.log(
  `${label}: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests + results.numTodoTests} skipped`,
);
process.exit(results.numFailedTests === 0 && results.numTotalTests > 0 ? 0 : 1);
