// The settings every test app and test-started process runs with: tests send many requests with
// one token and share one client address, so both limits are off unless a test turns them on.
export const TEST_SETTINGS = {
  NODE_ENV: 'test',
  RATE_LIMIT_PER_MINUTE: '0',
  AUTH_FAILURES_PER_MINUTE: '0',
  DATA_DIR: 'memory://',
} as const;

/** The environment of a process a test starts: this one's, with the test settings. */
export function childEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...TEST_SETTINGS, ...env };
}
