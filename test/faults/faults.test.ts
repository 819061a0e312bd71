/**
 * The full fault suite, `npm run test:faults` (about 25 minutes on two cores). The same scenarios run
 * reduced in CI from test/integration/faults-*.test.ts. One file, so the scenarios run one after another
 * and their figures do not disturb each other; each prints a `[fault] <name>: {...}` line of figures.
 */
import { describe, inject, it } from 'vitest'
import {
  cpuSaturationScenario,
  expulsionScenario,
  freezeScenario,
  unrecoverableScenario,
} from '../helpers/faults-liveness.ts'
import {
  brokerRestartScenario,
  clickhouseOutageScenario,
  handOverScenario,
  poisonFloodScenario,
  rulesWorkerCrashScenario,
  sigkillScenario,
} from '../helpers/faults-scenarios.ts'

const drainMs = 900_000

describe('full fault suite', () => {
  it('SIGKILL three times at random moments mid-stream: equal to an uninterrupted run, exactly once', async () => {
    await sigkillScenario(inject('kafkaBrokers'), {
      shops: 200,
      perShop: 150,
      testers: 20,
      partitions: 4,
      kills: 3,
      paceMs: 100,
      drainMs,
    })
  })

  it('the rules worker thread killed three times mid-stream: every partition rebuilt, exactly once', async () => {
    await rulesWorkerCrashScenario(inject('kafkaBrokers'), {
      shops: 200,
      perShop: 150,
      testers: 20,
      partitions: 4,
      crashes: 3,
      drainMs,
    })
  })

  it('ClickHouse writes failing for a minute: pause, back-off, not ready, catch-up', async () => {
    await clickhouseOutageScenario(inject('kafkaBrokers'), {
      shops: 100,
      perShop: 100,
      testers: 10,
      partitions: 4,
      outageMs: 60_000,
      mode: 'writes',
      drainMs,
    })
  })

  it('ClickHouse wholly unreachable for a minute (reads and pings too): pause, back-off, not ready, catch-up', async () => {
    await clickhouseOutageScenario(inject('kafkaBrokers'), {
      shops: 100,
      perShop: 100,
      testers: 10,
      partitions: 4,
      outageMs: 60_000,
      mode: 'all',
      drainMs,
    })
  })

  it('the broker stopped for 30 s and started again: reconnect and continue, exactly once', async () => {
    await brokerRestartScenario({
      shops: 100,
      perShop: 100,
      testers: 10,
      partitions: 4,
      downMs: 30_000,
      signal: 'SIGTERM',
      drainMs,
    })
  })

  it('the broker killed (SIGKILL) for 30 s and started again: reconnect and continue, exactly once', async () => {
    await brokerRestartScenario({
      shops: 100,
      perShop: 100,
      testers: 10,
      partitions: 4,
      downMs: 30_000,
      signal: 'SIGKILL',
      drainMs,
    })
  })

  it('two instances, one stopped mid-burst: hand-over with rule and scoring state', async () => {
    await handOverScenario(inject('kafkaBrokers'), {
      shops: 100,
      perShop: 100,
      testers: 20,
      partitions: 6,
      drainMs,
    })
  })

  it('10,000 malformed messages among 20,000 good ones: DLQ per reason, good ones once', async () => {
    await poisonFloodScenario(inject('kafkaBrokers'), {
      shops: 100,
      perShop: 100,
      testers: 10,
      partitions: 4,
      poison: 10_000,
      drainMs,
    })
  })
  it('frozen (SIGSTOP) for 45 s mid-stream, then resumed: rejoins by itself, equal to an undisturbed run', async () => {
    await freezeScenario(inject('kafkaBrokers'), {
      shops: 200,
      perShop: 100,
      testers: 10,
      partitions: 4,
      freezeMs: 45_000,
      paceMs: 100,
      drainMs,
    })
  })

  for (const stage of ['ingest', 'rules', 'entities', 'scoring', 'sink'] as const) {
    it(`the ${stage} stage: a part slower than the session keeps the membership; expelled with a part in hand, it rejoins`, async () => {
      await expulsionScenario(inject('kafkaBrokers'), {
        stage,
        shops: 100,
        perShop: 100,
        testers: 10,
        partitions: 4,
        slowMs: 20_000,
        blockMs: 20_000,
        drainMs,
      })
    })
  }

  it('a stage made unrecoverable (its topic deleted): /healthz fails, then the process exits 70', async () => {
    await unrecoverableScenario(inject('kafkaBrokers'), {
      shops: 50,
      perShop: 20,
      testers: 2,
      partitions: 4,
      livenessMs: 60_000,
      drainMs,
    })
  })

  it('both cores saturated by busy processes during a 500,000-event ingest: lag grows, drains, no crash', async () => {
    await cpuSaturationScenario(inject('kafkaBrokers'), {
      shops: 2_500,
      perShop: 200,
      testers: 20,
      partitions: 6,
      burners: 6,
      burnMs: 240_000,
      drainMs: 1_800_000,
    })
  })
})
