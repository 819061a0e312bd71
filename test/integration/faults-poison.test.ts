import { describe, inject, it } from 'vitest'
import { poisonFloodScenario } from '../helpers/faults-scenarios.ts'

// The reduced fault suite (CI): the full-size runs are in test/faults/ (`npm run test:faults`).
describe('fault: a flood of malformed messages among good ones', () => {
  it('dead-letters every bad one with its reason, stores every good one once, and alerts as usual', async () => {
    await poisonFloodScenario(inject('kafkaBrokers'), {
      shops: 30,
      perShop: 40,
      testers: 4,
      partitions: 2,
      poison: 2_000,
      drainMs: 180_000,
    })
  }, 600_000)
})
