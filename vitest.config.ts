import { defineConfig } from 'vitest/config'

// Two projects: unit tests of pure logic (no broker, no ClickHouse), and integration tests that talk to
// the real local Kafka broker (started once by test/global-setup.ts) and the real ClickHouse engine.
// Forks, not threads: chDB binds one data directory per process, so every test file gets its own.
export default defineConfig({
  test: {
    pool: 'forks',
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 10_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
})
