import { describe, inject, it } from 'vitest'
import {
  cpuSaturationScenario,
  expulsionScenario,
  freezeScenario,
  unrecoverableScenario,
} from '../helpers/faults-liveness.ts'

// The reduced liveness faults (CI); the full-size runs are in test/faults/ (`npm run test:faults`).
describe('fault: liveness', () => {
  it('frozen (SIGSTOP) past its session timeout, then resumed: rejoins and catches up, equal to an undisturbed run', async () => {
    await freezeScenario(inject('kafkaBrokers'), {
      shops: 30,
      perShop: 40,
      testers: 4,
      partitions: 2,
      freezeMs: 12_000,
      paceMs: 100,
      drainMs: 180_000,
    })
  }, 600_000)

  for (const stage of ['ingest', 'entities', 'scoring'] as const) {
    it(`the ${stage} stage keeps its membership through a slow part, and rejoins after being expelled with a part in hand`, async () => {
      await expulsionScenario(inject('kafkaBrokers'), {
        stage,
        shops: 20,
        perShop: 30,
        testers: 4,
        partitions: 2,
        slowMs: 9_000,
        blockMs: 10_000,
        drainMs: 180_000,
      })
    }, 600_000)
  }

  it('a stage made unrecoverable (its topic deleted): /healthz fails, then the process exits 70', async () => {
    await unrecoverableScenario(inject('kafkaBrokers'), {
      shops: 10,
      perShop: 10,
      testers: 1,
      partitions: 2,
      livenessMs: 16_000,
      drainMs: 180_000,
    })
  }, 300_000)

  it('both cores saturated during ingest: lag grows, then drains, no consumer crash', async () => {
    await cpuSaturationScenario(inject('kafkaBrokers'), {
      shops: 200,
      perShop: 100,
      testers: 4,
      partitions: 4,
      burners: 4,
      burnMs: 30_000,
      drainMs: 300_000,
    })
  }, 900_000)
})
