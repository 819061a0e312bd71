import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Kafka } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { IngestStage } from '../../ingest/stage.ts'
import { EventCodec } from '../../kafka/codec.ts'
import { transactionalProducer } from '../../kafka/transactions.ts'
import { createLogger } from '../../lib/logger.ts'
import { sleep } from '../../lib/retry.ts'
import { buildRulesConfig, createEngine } from '../../rules/engine/config.ts'
import type { RuleEngine } from '../../rules/engine/engine.ts'
import { RULES } from '../../rules/index.ts'
import type { RulesStage } from '../../rules/stage.ts'
import { MERCHANT_EVENT, RULE_HIT, TERMINAL_TRANSACTION } from '../../schemas/contract.ts'
import type { MerchantEvent, RuleHit, TerminalTransaction } from '../../schemas/types.generated.ts'
import { openStore, type Store } from '../../store/client.ts'
import { merchantEvent, txn } from '../helpers/events.ts'
import { readAll } from '../helpers/faults.ts'
import { EVERY_ACQUIRER_KNOWN, ingestSettings } from '../helpers/ingest.ts'
import { testKafka, uniqueName, waitFor } from '../helpers/kafka.ts'
import { createPathTopics, type PathTopics, testRulesStage } from '../helpers/stages.ts'

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent')
const codec = new EventCodec({})

/** Card testing at one merchant on one local day: 30 attempts on 30 cards, every other one declined. */
function burst(merchant: string, day: number): TerminalTransaction[] {
  return Array.from({ length: 30 }, (_, i) =>
    txn({
      merchant_id: merchant,
      event_time: day + i * 60_000,
      card_token: `tok-${merchant}-${i}`,
      response_code: i % 2 === 0 ? '05' : '00',
    }),
  )
}

describe('the rules stage, off the ClickHouse write', () => {
  let kafka: Kafka
  let dir: string
  let store: Store
  const cleanups: (() => Promise<void>)[] = []

  beforeAll(async () => {
    kafka = testKafka(inject('kafkaBrokers'))
    dir = mkdtempSync(join(tmpdir(), 'rules-stage-'))
    store = await openStore({ database: 'stage_test', chdbPath: join(dir, 'chdb') })
  })

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c()
    await store?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  function topicsOf(prefix: string): PathTopics {
    return {
      transactions: uniqueName(`${prefix}-t`),
      merchantEvents: uniqueName(`${prefix}-e`),
      ruleHits: uniqueName(`${prefix}-h`),
      entityActivity: uniqueName(`${prefix}-a`),
      scoreEvents: uniqueName(`${prefix}-s`),
    }
  }

  function newEngine(): RuleEngine {
    return createEngine(buildRulesConfig({}, RULES), {
      timeZoneOf: () => '+08:00',
      allowedLatenessMs: 6 * 3_600_000,
    })
  }

  function rulesStage(
    topics: PathTopics,
    group: string,
    opts: { engine?: RuleEngine; maxPartSize?: number } = {},
  ): RulesStage {
    return testRulesStage({
      kafka,
      store,
      codec,
      engine: opts.engine ?? newEngine(),
      topics,
      group,
      logger,
      concurrency: 1,
      maxPartSize: opts.maxPartSize ?? 10,
    })
  }

  function ingest(topics: PathTopics, group: string): IngestStage {
    return new IngestStage(ingestSettings(group, topics), {
      kafka,
      store,
      codec,
      logger,
      now: Date.now,
      sleep,
      acquirers: EVERY_ACQUIRER_KNOWN,
    })
  }

  async function produce(topic: string, txns: TerminalTransaction[]): Promise<void> {
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({
      topic,
      messages: await Promise.all(
        txns.map(async (t) => ({
          key: t.merchant_id,
          value: await codec.encode(TERMINAL_TRANSACTION, t, 'avro'),
        })),
      ),
    })
    await producer.disconnect()
  }

  /** The decline_ratio hit updates on the hits topic, committed ones only, decoded. */
  async function declineHits(topic: string, atLeast: number): Promise<RuleHit[]> {
    const out: RuleHit[] = []
    for (const m of await readAll(kafka, topic, { atLeast, quietMs: 1_500 })) {
      const d = await codec.decodeInternal(RULE_HIT, m.value)
      if (d.ok && d.record.rule_id === 'decline_ratio') out.push(d.record)
    }
    return out
  }

  it('is not protected by producer fencing on this broker: why a stage confirms its membership before committing', async () => {
    // Two transactional producers with one id, as an expelled owner and its successor would hold: on
    // Kafka 4 with kafkajs both commit (no epoch fencing for this client, no KIP-447 group metadata), so
    // the stages cannot rely on fencing and check their generation right before each commit instead.
    const topic = uniqueName('fence')
    await createPathTopics(kafka, { ...topicsOf('fence'), ruleHits: topic }, 1)
    const id = uniqueName('fence-txn')
    const old = await transactionalProducer(kafka, id)
    const successor = await transactionalProducer(kafka, id)
    try {
      const t = await old.transaction()
      await t.send({ topic, messages: [{ value: 'from the old owner' }] })
      await t.commit()
      const u = await successor.transaction()
      await u.send({ topic, messages: [{ value: 'from the successor' }] })
      await u.commit()
    } finally {
      await old.disconnect()
      await successor.disconnect()
    }
    const values = (await readAll(kafka, topic, { atLeast: 2, quietMs: 1_000 })).map((m) => String(m.value))
    expect(values).toEqual(['from the old owner', 'from the successor'])
  })

  it('rebuilds only once the store holds what it read: a restart ahead of ingest waits for it', async () => {
    const topics = topicsOf('wait')
    const group = uniqueName('wait')
    await createPathTopics(kafka, topics, 1)
    const events = burst('m-waits', Date.UTC(2026, 10, 21, 2))
    // The rules stage alone takes the first half: nothing is stored yet.
    await produce(topics.transactions, events.slice(0, 15))
    const first = rulesStage(topics, group)
    await first.start()
    await waitFor(
      async () => first.stats.events >= 15,
      () => `rules took ${first.stats.events} of 15`,
    )
    await first.stop()

    // Restarted with empty memory and ingest still not running: it must not rebuild from an empty store.
    const second = rulesStage(topics, group)
    await second.start()
    cleanups.push(() => second.stop())
    await produce(topics.transactions, events.slice(15))
    await sleep(4_000)
    expect(second.stats.rebuilds).toBe(0)
    expect(second.stats.events).toBe(0)

    // Ingest stores the lot; the rules stage rebuilds the first half from it and takes the second.
    const storing = ingest(topics, group)
    await storing.start()
    cleanups.push(() => storing.stop())
    await waitFor(
      async () => second.stats.events >= 15,
      () =>
        `stored ${storing.stats.stored}, rebuilds ${second.stats.rebuilds}, rules took ${second.stats.events}`,
    )
    expect(second.stats.rebuilds).toBe(1)
    const hits = await declineHits(topics.ruleHits, 1)
    expect(hits.at(-1)?.detail).toBe('15 of 30 attempts declined today across 15 cards')
  })

  it('rebuilds up to where its consumer reads, when that is past what its group committed', async () => {
    const topics = topicsOf('ahead')
    const group = uniqueName('ahead')
    await createPathTopics(kafka, topics, 1)
    const events = burst('m-ahead', Date.UTC(2026, 10, 21, 2))
    const storing = ingest(topics, group)
    await storing.start()
    cleanups.push(() => storing.stop())
    await produce(topics.transactions, events.slice(0, 15))
    await waitFor(
      async () => storing.stats.stored >= 15,
      () => `stored ${storing.stats.stored} of 15`,
    )
    // The first half leaves the log before the rules group committed anything, so its consumer starts at
    // offset 15 while the group's committed offset says 0: a state rebuilt up to the commit would lack
    // the first half, and the burst would never reach decline_ratio's floor of 20 attempts.
    const admin = kafka.admin()
    await admin.connect()
    await admin.fetchTopicMetadata({ topics: [topics.transactions] })
    await admin.deleteTopicRecords({
      topic: topics.transactions,
      partitions: [{ partition: 0, offset: '15' }],
    })
    await admin.disconnect()
    await produce(topics.transactions, events.slice(15))
    await waitFor(
      async () => storing.stats.stored >= 30,
      () => `stored ${storing.stats.stored} of 30`,
    )

    const rules = rulesStage(topics, group)
    await rules.start()
    cleanups.push(() => rules.stop())
    await waitFor(
      async () => rules.stats.events >= 15,
      () => `rebuilds ${rules.stats.rebuilds}, rules took ${rules.stats.events}`,
    )
    expect(rules.stats.rebuilds).toBe(1)
    expect(rules.stats.events).toBe(15)
    const hits = await declineHits(topics.ruleHits, 1)
    expect(hits.at(-1)?.detail).toBe('15 of 30 attempts declined today across 15 cards')
  })

  it("takes a partition's lifecycle events and sales in timestamp order, whatever order the fetches bring them", async () => {
    const topics = topicsOf('align')
    const group = uniqueName('align')
    await createPathTopics(kafka, topics, 1)
    // 60 sales stamped every 2 s, and 5 lifecycle events stamped between them (odd seconds): two before
    // the first sale, three among the sales. Both topics are read from a backlog, as in a replay.
    const base = Date.now() - 3_600_000
    const sales = Array.from({ length: 60 }, (_, i) => ({
      at: base + 2_000 * i,
      value: txn({ merchant_id: 'm-aligned', event_time: base + 2_000 * i - 500 }),
    }))
    const lifecycle = [-3, -1, 21, 41, 101].map((s) => ({
      at: base + 1_000 * s,
      value: merchantEvent({
        merchant_id: 'm-aligned',
        kind: 'ONBOARDED',
        event_time: base + 1_000 * s - 500,
      }),
    }))
    const producer = kafka.producer()
    await producer.connect()
    try {
      const stamped = (at: number, value: Buffer) => ({ key: 'm-aligned', value, timestamp: String(at) })
      const sends = [
        {
          topic: topics.transactions,
          messages: await Promise.all(
            sales.map(async (e) => stamped(e.at, await codec.encode(TERMINAL_TRANSACTION, e.value, 'avro'))),
          ),
        },
        {
          topic: topics.merchantEvents,
          messages: await Promise.all(
            lifecycle.map(async (e) => stamped(e.at, await codec.encode(MERCHANT_EVENT, e.value, 'avro'))),
          ),
        },
      ]
      for (const send of sends) await producer.send(send)
    } finally {
      await producer.disconnect()
    }
    // The order in which the engine is given the events.
    const engine = newEngine()
    const seen: number[] = []
    const onTransaction = engine.onTransaction.bind(engine)
    const onMerchantEvent = engine.onMerchantEvent.bind(engine)
    engine.onTransaction = (t: TerminalTransaction) => {
      seen.push(t.event_time + 500)
      return onTransaction(t)
    }
    engine.onMerchantEvent = (e: MerchantEvent) => {
      seen.push(e.event_time + 500)
      return onMerchantEvent(e)
    }
    const stage = rulesStage(topics, group, { engine, maxPartSize: 1 })
    await stage.start()
    cleanups.push(() => stage.stop())
    await waitFor(
      async () => seen.length >= 65,
      () => `the engine took ${seen.length} of 65 events`,
      60_000,
    )
    // Every event after every event stamped earlier, lifecycle and sales alike.
    expect(seen).toEqual([...seen].sort((a, b) => a - b))
    expect(seen.length).toBe(65)
  })
})
