import type { Kafka } from 'kafkajs'
import { afterAll, describe, expect, inject, it } from 'vitest'
import {
  PartitionStage,
  type StageContext,
  type StageDeps,
  type StagePart,
  type StageSettings,
  stageSettings,
} from '../../kafka/stage-runner.ts'
import { ensureTopics } from '../../kafka/topics.ts'
import { createLogger } from '../../lib/logger.ts'
import { sleep } from '../../lib/retry.ts'
import { testKafka, uniqueName, waitFor } from '../helpers/kafka.ts'

/** Short enough for a test: a stage without progress this long, and behind, is idle. */
const STUCK_MS = 3_000

function settings(topic: string, partitions = 1, fromBeginning = true): StageSettings {
  return {
    ...stageSettings(
      {
        name: 'idle',
        groupId: uniqueName('idle'),
        topics: [topic],
        fromBeginning,
        concurrency: partitions,
        maxPartSize: 1_000,
      },
      // The broker's shortest session (group.min.session.timeout.ms).
      { retryInitialMs: 100, retryMaxMs: 1_000, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 1_000 },
    ),
    stuckAfterMs: STUCK_MS,
    idleCheckMs: 250,
  }
}

/** Counts the messages of every part. */
class Counter extends PartitionStage {
  readonly commits = 'runner'
  messages = 0

  async process(part: StagePart, _ctx: StageContext): Promise<void> {
    this.messages += part.messages.length
  }
}

/** Never takes a part: it pauses the partition and defers, as the rules stage does while it waits. */
class Waiter extends PartitionStage {
  readonly commits = 'runner'
  firstDeferAt: number | null = null

  async process(part: StagePart, ctx: StageContext): Promise<void> {
    this.firstDeferAt ??= Date.now()
    this.runner.pause(part.topic, part.partition)
    ctx.defer()
  }
}

async function produce(kafka: Kafka, topic: string, perPartition: Record<number, number>): Promise<void> {
  const producer = kafka.producer()
  await producer.connect()
  try {
    for (const [p, n] of Object.entries(perPartition))
      await producer.send({
        topic,
        messages: Array.from({ length: n }, (_, i) => ({ partition: Number(p), value: `m${i}` })),
      })
  } finally {
    await producer.disconnect()
  }
}

async function committedAndEnd(kafka: Kafka, groupId: string, topic: string): Promise<[string, string]> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] })
    const [end] = await admin.fetchTopicOffsets(topic)
    return [offsets?.partitions[0]?.offset ?? '-1', end?.high ?? '-1']
  } finally {
    await admin.disconnect()
  }
}

describe('a stage idle while its partitions have records after its commits', () => {
  const kafka = testKafka(inject('kafkaBrokers'))
  const deps: StageDeps = { kafka, logger: createLogger('silent'), now: Date.now, sleep }
  const stops: (() => Promise<void>)[] = []
  afterAll(async () => {
    for (const s of stops) await s()
  })

  it('reads a partition again whose resume was lost, and leaves a stage that is caught up alone', async () => {
    const topic = uniqueName('idle')
    await ensureTopics(kafka, [topic], { partitions: 2, replicationFactor: 1 })
    const stage = new Counter(settings(topic, 2), deps)
    await stage.start()
    stops.push(() => stage.stop())
    await produce(kafka, topic, { 0: 5, 1: 5 })
    await waitFor(
      async () => stage.messages === 10,
      () => `read ${stage.messages} of 10`,
    )

    // A pause nobody resumes (a lost resume): partition 0's next records would wait for ever.
    stage.runner.pause(topic, 0)
    await produce(kafka, topic, { 0: 5, 1: 5 })
    await waitFor(
      async () => stage.messages === 20,
      () => `read ${stage.messages} of 20; ${JSON.stringify(stage.runner.stats)}`,
      20_000,
    )
    // Re-reading cured it (a slow machine may also have replaced the consumer before the records came).
    const cures = stage.runner.stats.idleCures
    expect(cures).toBeGreaterThanOrEqual(1)

    // Caught up and quiet for several idle spans: nothing to cure, and healthy.
    await sleep(3 * STUCK_MS)
    expect(stage.runner.stats.idleCures).toBe(cures)
    expect(stage.health()).toMatchObject({ healthy: true, cause: null })
  }, 60_000)

  it('reaches the end of a topic written in transactions, past its markers, with nothing to cure', async () => {
    const topic = uniqueName('idle-txn')
    await ensureTopics(kafka, [topic], { partitions: 1, replicationFactor: 1 })
    const producer = kafka.producer({
      transactionalId: uniqueName('idle-txn'),
      idempotent: true,
      maxInFlightRequests: 1,
    })
    await producer.connect()
    try {
      for (let t = 0; t < 3; t++) {
        const txn = await producer.transaction()
        await txn.send({ topic, messages: [{ value: `a${t}` }, { value: `b${t}` }] })
        await txn.commit()
      }
    } finally {
      await producer.disconnect()
    }
    const s = settings(topic)
    const stage = new Counter(s, deps)
    await stage.start()
    stops.push(() => stage.stop())
    await waitFor(
      async () => stage.messages === 6,
      () => `read ${stage.messages} of 6`,
    )
    await waitFor(
      async () => {
        const [committed, end] = await committedAndEnd(kafka, s.groupId, topic)
        return committed === end
      },
      async () => `committed and end: ${(await committedAndEnd(kafka, s.groupId, topic)).join(', ')}`,
      20_000,
    )
    await sleep(3 * STUCK_MS)
    expect(stage.runner.stats.idleCures).toBe(0)
    expect(stage.health().healthy).toBe(true)
  }, 60_000)

  it('leaves alone a new group that starts at the end, however much came before it', async () => {
    const topic = uniqueName('idle-latest')
    await ensureTopics(kafka, [topic], { partitions: 1, replicationFactor: 1 })
    await produce(kafka, topic, { 0: 5 })
    const stage = new Counter(settings(topic, 1, false), deps)
    await stage.start()
    stops.push(() => stage.stop())
    await sleep(3 * STUCK_MS)
    expect(stage.messages).toBe(0)
    expect(stage.runner.stats.idleCures).toBe(0)
    expect(stage.health().healthy).toBe(true)
  }, 60_000)

  it('re-reads, then replaces its consumer, then reports itself stuck since it last progressed', async () => {
    const topic = uniqueName('idle-stuck')
    await ensureTopics(kafka, [topic], { partitions: 1, replicationFactor: 1 })
    await produce(kafka, topic, { 0: 3 })
    const stage = new Waiter(settings(topic), deps)
    const started = Date.now()
    await stage.start()
    stops.push(() => stage.stop())
    await waitFor(
      async () => !stage.health().healthy && stage.health().cause === 'no progress while behind',
      () => `health ${JSON.stringify(stage.health())}; ${JSON.stringify(stage.runner.stats)}`,
      30_000,
    )
    const h = stage.health()
    // Dated from its last progress (its join), not from when the cures ran out.
    expect(h.since).toBeGreaterThanOrEqual(started)
    expect(h.since).toBeLessThanOrEqual(stage.firstDeferAt ?? 0)
    expect(stage.runner.stats.idleCures).toBe(2)
    expect(stage.runner.stats.replacements).toBe(1)
    expect(stage.ready).toBe(false)
  }, 60_000)
})
