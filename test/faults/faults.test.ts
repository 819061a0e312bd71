/**
 * The full fault suite, `npm run test:faults` (about 25 minutes on two cores). The same scenarios run
 * reduced in CI from test/integration/faults-*.test.ts. One file, so the scenarios run one after another
 * and their figures do not disturb each other; each prints a `[fault] <name>: {...}` line of figures.
 */
import { describe, inject, it } from 'vitest'
import {
  brokerRestartScenario,
  clickhouseOutageScenario,
  handOverScenario,
  poisonFloodScenario,
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
})
