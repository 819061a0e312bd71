import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Kafka, Producer } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { EventCodec } from '../../kafka/codec.ts'
import { ensureTopics } from '../../kafka/topics.ts'
import { createLogger } from '../../lib/logger.ts'
import { sleep } from '../../lib/retry.ts'
import type { HitUpdate } from '../../rules/engine/engine.ts'
import { hitMessages } from '../../rules/hits.ts'
import { SCORE_EVENT } from '../../schemas/contract.ts'
import type { ScoreEvent } from '../../schemas/types.generated.ts'
import { SinkStage } from '../../sink/stage.ts'
import { openStore, type Store } from '../../store/client.ts'
import { testKafka, uniqueName, waitFor } from '../helpers/kafka.ts'

const T0 = Date.UTC(2026, 10, 20, 4)
const PARTITIONS = 4
const MERCHANTS = 40
const HITS_PER_MERCHANT = 5
const PART = 10

function hitOf(merchantId: string, n: number): HitUpdate {
  return {
    hitId: `${merchantId}:round_amount:${n}`,
    acquirerId: 'acq-a',
    merchantId,
    ruleId: 'round_amount',
    ruleVersion: 1,
    category: 'fraud',
    finding: {
      observed: 0.9,
      threshold: 0.3,
      windowStart: T0 + n * 86_400_000,
      windowEnd: T0 + (n + 1) * 86_400_000,
      sampleTxnIds: [`${merchantId}-t${n}`],
      detail: `round amounts on day ${n}`,
    },
    detectedAt: T0 + (n + 1) * 86_400_000,
    configHash: 'test',
  }
}

function scoreEventOf(merchantId: string, score: number): ScoreEvent {
  return {
    acquirer_id: 'acq-a',
    merchant_id: merchantId,
    scores: [
      {
        category: 'fraud',
        score,
        level: score >= 40 ? 'MEDIUM' : 'LOW',
        hit_count: 1,
        families: ['amount'],
        breakdown: '[]',
        scored_at: T0 + score * 60_000,
      },
    ],
    alerts: [],
    cases: [],
  }
}

describe('sink stage on the real broker and ClickHouse', () => {
  let kafka: Kafka
  let dir: string
  let store: Store
  let producer: Producer
  let sink: SinkStage | null = null
  const codec = new EventCodec({})
  const prefix = uniqueName('sink')
  const topics = { ruleHits: `${prefix}.rule-hits`, scoreEvents: `${prefix}.score-events` }
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn')
  const merchants = Array.from({ length: MERCHANTS }, (_, i) => `m-${i}`)
  const rows = async <T>(query: string): Promise<T[]> =>
    (await store.client.query({ query, format: 'JSONEachRow' })).json<T>()

  beforeAll(async () => {
    kafka = testKafka(inject('kafkaBrokers'))
    dir = mkdtempSync(join(tmpdir(), 'sink-test-'))
    store = await openStore({ database: 'sink_test', chdbPath: join(dir, 'chdb') })
    await ensureTopics(kafka, [topics.ruleHits, topics.scoreEvents], {
      partitions: PARTITIONS,
      replicationFactor: 1,
    })
    producer = kafka.producer()
    await producer.connect()
  })

  afterAll(async () => {
    await sink?.stop()
    await producer?.disconnect()
    await store?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it("stores every partition's parts with one insert per table for the parts in hand, not one per part", async () => {
    // The backlog is there before the sink starts, so parts of every partition are in hand at once.
    for (let n = 0; n < HITS_PER_MERCHANT; n++)
      await producer.send({
        topic: topics.ruleHits,
        acks: -1,
        messages: await hitMessages(
          codec,
          merchants.map((m) => hitOf(m, n)),
        ),
      })
    // Score events on every partition: the latest score of each merchant is its highest here.
    for (let score = 10; score <= 50; score += 10)
      await producer.send({
        topic: topics.scoreEvents,
        acks: -1,
        messages: await Promise.all(
          merchants.map(async (m, i) => ({
            key: m,
            partition: i % PARTITIONS,
            value: await codec.encode(SCORE_EVENT, scoreEventOf(m, score), 'avro'),
          })),
        ),
      })
    const hits = MERCHANTS * HITS_PER_MERCHANT
    const events = MERCHANTS * 5
    const s = new SinkStage({
      kafka,
      store,
      codec,
      topics,
      groupId: `${prefix}-sink`,
      concurrency: 2 * PARTITIONS,
      maxPartSize: PART,
      logger,
      now: Date.now,
      sleep,
      retryInitialMs: 100,
      retryMaxMs: 1000,
    })
    sink = s
    await s.start()
    await waitFor(
      async () => s.stats.hits >= hits && s.stats.scoreEvents >= events,
      () =>
        `the sink stored ${s.stats.hits} of ${hits} hits and ${s.stats.scoreEvents} of ${events} score events`,
      60_000,
    )
    const [stored] = await rows<{ n: string }>('SELECT count() AS n FROM sink_test.rule_hits FINAL')
    expect(Number(stored?.n)).toBe(hits)
    const scores = await rows<{ merchant_id: string; score: number }>(
      'SELECT merchant_id, score FROM sink_test.merchant_scores FINAL ORDER BY merchant_id',
    )
    expect(scores).toHaveLength(MERCHANTS)
    expect(new Set(scores.map((r) => r.score))).toEqual(new Set([50]))
    const [history] = await rows<{ n: string }>('SELECT count() AS n FROM sink_test.score_history FINAL')
    expect(Number(history?.n)).toBe(events)
    // The history keeps score and level over time; the breakdown only with the latest score (0007).
    const columns = await rows<{ name: string }>('DESCRIBE TABLE sink_test.score_history')
    expect(columns.map((c) => c.name)).toEqual(
      expect.arrayContaining(['merchant_id', 'category', 'scored_at', 'score', 'level']),
    )
    expect(columns.map((c) => c.name)).not.toContain('breakdown')
    // Parts hold at most PART records: at least this many parts per topic, each an insert of its own
    // before the parts in hand were written together.
    const parts = { hits: hits / PART, scores: events / PART }
    expect(s.inserts.hits).toBeLessThan(parts.hits)
    expect(s.inserts.scores).toBeLessThan(parts.scores)
    expect(s.inserts.hits).toBeGreaterThan(0)
  })
})
