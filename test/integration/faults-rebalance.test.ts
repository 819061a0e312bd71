import { describe, inject, it } from 'vitest'
import { handOverScenario } from '../helpers/faults-scenarios.ts'

// The reduced fault suite (CI): the full-size runs are in test/faults/ (`npm run test:faults`).
describe('fault: two instances in one consumer group, one stopped', () => {
  it('hands its partitions over with their rule and scoring state; bursts split across the stop alert once', async () => {
    await handOverScenario(inject('kafkaBrokers'), {
      shops: 30,
      perShop: 40,
      testers: 8,
      partitions: 4,
      drainMs: 180_000,
    })
  }, 600_000)
})
