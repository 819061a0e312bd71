import { describe, it } from 'vitest'
import { brokerRestartScenario } from '../helpers/faults-scenarios.ts'

// The reduced fault suite (CI): the full-size runs are in test/faults/ (`npm run test:faults`). This test
// starts a broker of its own, since it stops it.
describe('fault: the Kafka broker restarted mid-stream', () => {
  it('reconnects by itself and continues, nothing lost or doubled, one alert per situation', async () => {
    await brokerRestartScenario({
      shops: 30,
      perShop: 40,
      testers: 4,
      partitions: 2,
      downMs: 5_000,
      signal: 'SIGTERM',
      drainMs: 240_000,
    })
  }, 600_000)
})
