import { defineConfig } from 'vitest/config'

// Unit tests of pure logic (no broker, no ClickHouse); integration tests that talk to the real local Kafka
// broker (started once by test/global-setup.ts) and the real ClickHouse engine; and the full fault suite
// (test/faults/), which takes many minutes and so runs only when named: `npm run test:faults`.
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
      {
        // The console in real headless Chromium (Debian's package) over the real service.
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 420_000,
        },
      },
      {
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 1_800_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
})
