import { defineConfig } from 'vitest/config';

// Integration tests start real processes on real ports: give them room, and keep the
// two cores of a CI machine from being oversubscribed by too many parallel files.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
  },
});
