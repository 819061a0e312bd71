import { describe, inject, it } from 'vitest'
import { rulesWorkerCrashScenario } from '../helpers/faults-scenarios.ts'

// The reduced fault suite (CI): the full-size run is in test/faults/ (`npm run test:faults`).
describe('fault: the rules worker thread killed twice mid-stream', () => {
  it('rebuilds every partition and stores and alerts as if nothing happened, exactly once', async () => {
    await rulesWorkerCrashScenario(inject('kafkaBrokers'), {
      shops: 30,
      perShop: 60,
      testers: 4,
      partitions: 2,
      crashes: 2,
      drainMs: 180_000,
    })
  }, 600_000)
})
