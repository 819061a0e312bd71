import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Kafka, Producer } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { IngestStage } from '../../ingest/stage.ts'
import { EventCodec } from '../../kafka/codec.ts'
import { createLogger } from '../../lib/logger.ts'
import { sleep } from '../../lib/retry.ts'
import { buildRulesConfig, createEngine } from '../../rules/engine/config.ts'
import { RULES } from '../../rules/index.ts'
import { RulesStage } from '../../rules/stage.ts'
import { TERMINAL_TRANSACTION } from '../../schemas/contract.ts'
import type { TerminalTransaction } from '../../schemas/types.generated.ts'
import { openStore, type Store } from '../../store/client.ts'
import { txn } from '../helpers/events.ts'
import { createInputTopics, EVERY_ACQUIRER_KNOWN, ingestSettings } from '../helpers/ingest.ts'
import { testKafka, uniqueName, waitFor } from '../helpers/kafka.ts'

interface HitRow {
  rule_id: string
  rule_version: number
  category: string
  observed: number
  threshold: number
  detail: string
  config_hash: string
  sample_txn_ids: string[]
  window_start: string
}

describe('rule engine on the live stream', () => {
  let kafka: Kafka
  let producer: Producer
  let dir: string
  const codec = new EventCodec({})
  const topics = { transactions: uniqueName('rtx'), merchantEvents: uniqueName('rev') }
  const groupId = uniqueName('rules')
  const config = buildRulesConfig({}, RULES)
  let running: { store: Store; consumer: IngestStage; stage: RulesStage } | null = null

  /** One instance of the pipeline: a fresh engine (empty memory), the same chDB directory and group. */
  async function startInstance() {
    const store = await openStore({ database: 'rules_test', chdbPath: join(dir, 'chdb') })
    const engine = createEngine(config, {
      timeZoneOf: () => '+08:00',
      allowedLatenessMs: 6 * 3_600_000,
    })
    const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn')
    const stage = new RulesStage({ store, engine, topics, logger, now: Date.now })
    const consumer = new IngestStage(ingestSettings(groupId, topics), {
      kafka,
      store,
      codec,
      logger,
      now: Date.now,
      sleep,
      acquirers: EVERY_ACQUIRER_KNOWN,
      sink: stage,
    })
    await consumer.start()
    running = { store, consumer, stage }
    return running
  }

  async function stopInstance() {
    if (running === null) return
    await running.consumer.stop()
    await running.store.close()
    running = null
  }

  async function produce(txns: TerminalTransaction[]) {
    await producer.send({
      topic: topics.transactions,
      messages: await Promise.all(
        txns.map(async (t) => ({
          key: t.merchant_id,
          value: await codec.encode(TERMINAL_TRANSACTION, t, 'avro'),
        })),
      ),
    })
  }

  async function hits(store: Store, ruleId: string): Promise<HitRow[]> {
    const rs = await store.client.query({
      query:
        'SELECT rule_id, rule_version, category, observed, threshold, detail, config_hash, sample_txn_ids, toString(window_start) AS window_start FROM rule_hits FINAL WHERE rule_id = {rule:String} AND merchant_id = {m:String}',
      query_params: { rule: ruleId, m: 'm-testing' },
      format: 'JSONEachRow',
    })
    return rs.json<HitRow>()
  }

  beforeAll(async () => {
    kafka = testKafka(inject('kafkaBrokers'))
    dir = mkdtempSync(join(tmpdir(), 'rules-test-'))
    await createInputTopics(kafka, topics, 2)
    producer = kafka.producer()
    await producer.connect()
  })

  afterAll(async () => {
    await stopInstance()
    await producer?.disconnect()
    rmSync(dir, { recursive: true, force: true })
  })

  // Card testing at one merchant on one local day (UTC+8), 30 attempts on 30 cards, half declined,
  // in two halves of 15: under the floor of 20 attempts each, over it together.
  const day = Date.UTC(2026, 10, 20, 2, 0, 0)
  const attempts = Array.from({ length: 30 }, (_, i) =>
    txn({
      merchant_id: 'm-testing',
      event_time: day + i * 60_000,
      card_token: `tok-testing-${i}`,
      response_code: i % 2 === 0 ? '05' : '00',
    }),
  )

  it('writes no hit while the day is under the count floor', async () => {
    const { consumer, store } = await startInstance()
    await produce(attempts.slice(0, 15))
    await waitFor(
      async () => consumer.stats.stored >= 15,
      () => `stored ${consumer.stats.stored} of 15`,
    )
    expect(await hits(store, 'decline_ratio')).toEqual([])
  })

  it('continues the window after a restart: the first half still counts', async () => {
    await stopInstance()
    const { consumer, store } = await startInstance()
    await produce(attempts.slice(15))
    await waitFor(
      async () => consumer.stats.stored >= 15,
      () => `stored ${consumer.stats.stored} of 15 after the restart`,
    )
    await waitFor(
      async () => (await hits(store, 'decline_ratio')).length === 1,
      () => 'no decline_ratio hit after the restart',
    )
    const [hit] = await hits(store, 'decline_ratio')
    expect(hit?.detail).toBe('15 of 30 attempts declined today across 15 cards')
    expect(hit?.observed).toBe(0.5)
    expect(hit?.threshold).toBe(0.3)
    expect(hit?.rule_version).toBe(1)
    expect(hit?.category).toBe('fraud')
    expect(hit?.config_hash).toBe(config.hash)
    expect(hit?.sample_txn_ids.length).toBe(5)
    // The local day of 2026-11-20 in UTC+8 starts at 16:00 UTC the day before.
    expect(hit?.window_start).toBe('2026-11-19 16:00:00.000')
  })

  it('does not count the same attempts again when they are produced twice', async () => {
    const current = running
    if (current === null) throw new Error('no running instance')
    const before = current.consumer.stats.duplicates
    await produce(attempts)
    await waitFor(
      async () => current.consumer.stats.duplicates >= before + 30,
      () => `duplicates ${current.consumer.stats.duplicates - before} of 30`,
    )
    const [hit] = await hits(current.store, 'decline_ratio')
    expect(hit?.detail).toBe('15 of 30 attempts declined today across 15 cards')
  })
})
