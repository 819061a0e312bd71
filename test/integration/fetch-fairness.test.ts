import { afterAll, describe, expect, inject, it } from 'vitest'
import {
  ABREAST_FETCH,
  PartitionStage,
  type StageContext,
  type StagePart,
  stageSettings,
} from '../../kafka/stage-runner.ts'
import { ensureTopics } from '../../kafka/topics.ts'
import { createLogger } from '../../lib/logger.ts'
import { sleep } from '../../lib/retry.ts'
import { testKafka, uniqueName, waitFor } from '../helpers/kafka.ts'

/** Records which partition each part came from, in order. */
class Recorder extends PartitionStage {
  readonly commits = 'runner'
  readonly parts: number[] = []

  async process(part: StagePart, _ctx: StageContext): Promise<void> {
    this.parts.push(part.partition)
  }
}

describe('fetches of a backlog', () => {
  const kafka = testKafka(inject('kafkaBrokers'))
  const stops: (() => Promise<void>)[] = []
  afterAll(async () => {
    for (const s of stops) await s()
  })

  it("serve every partition in each fetch with the rules stage's sizes, not the first few until they drain", async () => {
    // Six partitions of 3 MB each: more than kafkajs's default 10 MB answer holds, so with the old 4 MB
    // per partition the first three took the first fetch whole and the last two waited for the next.
    const topic = uniqueName('fair')
    await ensureTopics(kafka, [topic], { partitions: 6, replicationFactor: 1 })
    const producer = kafka.producer()
    await producer.connect()
    const value = Buffer.alloc(1_000, 'x')
    try {
      for (let p = 0; p < 6; p++)
        for (let chunk = 0; chunk < 3; chunk++)
          await producer.send({
            topic,
            messages: Array.from({ length: 1_000 }, () => ({ partition: p, value })),
          })
    } finally {
      await producer.disconnect()
    }
    const stage = new Recorder(
      stageSettings(
        {
          name: 'fairness',
          groupId: uniqueName('fair'),
          topics: [topic],
          fromBeginning: true,
          concurrency: 1,
          maxPartSize: 100_000,
          consumer: ABREAST_FETCH,
        },
        { retryInitialMs: 100, retryMaxMs: 1_000 },
      ),
      { kafka, logger: createLogger('silent'), now: Date.now, sleep },
    )
    await stage.start()
    stops.push(() => stage.stop())
    await waitFor(
      async () => stage.parts.length >= 6,
      () => `only ${stage.parts.length} parts fetched`,
    )
    // The first fetch's parts: one from each partition.
    expect(new Set(stage.parts.slice(0, 6)).size).toBe(6)
  })
})
