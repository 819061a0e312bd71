import { describe, inject, it } from 'vitest'
import { sigkillScenario } from '../helpers/faults-scenarios.ts'

// The reduced fault suite (CI): the full-size runs are in test/faults/ (`npm run test:faults`).
describe('fault: the service killed with SIGKILL mid-stream and started again', () => {
  it('stores every event once, and its aggregates, scores and alerts equal an uninterrupted run', async () => {
    await sigkillScenario(inject('kafkaBrokers'), {
      shops: 40,
      perShop: 50,
      testers: 6,
      partitions: 2,
      kills: 1,
      paceMs: 150,
      drainMs: 180_000,
    })
  }, 600_000)
})
