import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: import.meta.dirname,
    include: ['test/**/*.test.ts'],
    // Each file renders the chart with helm a few times; config.ts imports load the services' kit.
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
