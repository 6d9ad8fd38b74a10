import { defineConfig } from 'vitest/config';

// Tests import the built package (dist/): worker threads run real JS, as a user's would.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // 2 cores: files run one after another so thread-heavy tests do not starve each other.
    fileParallelism: false,
  },
});
