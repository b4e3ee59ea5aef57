import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // End-to-end tests start coordinator, agent and CLI processes and wait for real backups.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    // Each test file runs in its own process with its own coordinator. Two files at a time fit
    // the 2 cores of the CI machine next to the processes that they start.
    pool: 'forks',
    maxWorkers: 2,
    setupFiles: ['test/helpers/setup.ts'],
    exclude: ['**/node_modules/**', '.bench-data/**', 'coverage/**'],
  },
});
