import { describe, inject, it } from 'vitest'
import { clickhouseOutageScenario } from '../helpers/faults-scenarios.ts'

// The reduced fault suite (CI): the full-size runs are in test/faults/ (`npm run test:faults`).
describe('fault: ClickHouse writes failing for 30 s', () => {
  it('pauses, retries with back-off, is not ready, then catches up with nothing lost or doubled', async () => {
    await clickhouseOutageScenario(inject('kafkaBrokers'), {
      shops: 30,
      perShop: 40,
      testers: 4,
      partitions: 2,
      outageMs: 30_000,
      mode: 'writes',
      drainMs: 180_000,
    })
  }, 600_000)
})
