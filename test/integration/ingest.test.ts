import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Kafka, Producer } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { IngestStage } from '../../ingest/stage.ts'
import { EventCodec } from '../../kafka/codec.ts'
import { DLQ_HEADERS } from '../../kafka/dlq.ts'
import { createLogger } from '../../lib/logger.ts'
import { sleep } from '../../lib/retry.ts'
import { MERCHANT_EVENT, TERMINAL_TRANSACTION } from '../../schemas/contract.ts'
import { openStore, type Store } from '../../store/client.ts'
import { merchantEvent, txn } from '../helpers/events.ts'
import { createInputTopics, EVERY_ACQUIRER_KNOWN, ingestSettings } from '../helpers/ingest.ts'
import { readTopic, testKafka, uniqueName, waitFor } from '../helpers/kafka.ts'

const NOW = Date.UTC(2026, 10, 22, 0, 0, 0)

describe('ingest: Kafka to ClickHouse, exactly once, bad input to the DLQ', () => {
  let kafka: Kafka
  let producer: Producer
  let store: Store
  let dir: string
  const codec = new EventCodec({})
  const topics = { transactions: uniqueName('txns'), merchantEvents: uniqueName('mevents') }
  const consumers: IngestStage[] = []

  function startConsumer(groupId: string): IngestStage {
    const consumer = new IngestStage(ingestSettings(groupId, topics), {
      kafka,
      store,
      codec,
      logger: createLogger('warn'),
      now: () => NOW,
      sleep,
      acquirers: EVERY_ACQUIRER_KNOWN,
    })
    consumers.push(consumer)
    return consumer
  }

  async function count(sql: string, params: Record<string, unknown> = {}): Promise<number> {
    const rs = await store.client.query({ query: sql, query_params: params, format: 'JSONEachRow' })
    const rows = await rs.json<{ n: string | number }>()
    return Number(rows[0]?.n ?? 0)
  }

  beforeAll(async () => {
    kafka = testKafka(inject('kafkaBrokers'))
    dir = mkdtempSync(join(tmpdir(), 'ingest-test-'))
    store = await openStore({ database: 'ingest_test', chdbPath: join(dir, 'chdb') })
    await createInputTopics(kafka, topics, 3)
    producer = kafka.producer()
    await producer.connect()
  })

  afterAll(async () => {
    for (const c of consumers) await c.stop()
    await producer?.disconnect()
    await store?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const avroTxns = Array.from({ length: 300 }, (_, i) =>
    txn({ merchant_id: `m-${i % 5}`, card_type: i % 4 === 0 ? 'DEBIT' : 'CREDIT', amount_minor: 10_000 + i }),
  )
  const jsonTxns = Array.from({ length: 100 }, (_, i) =>
    txn({ merchant_id: `m-${i % 5}`, amount_minor: 500_000 }),
  )
  const events = [0, 1, 2, 3, 4].map((i) => merchantEvent({ merchant_id: `m-${i}` }))
  const expectedAmount = [...avroTxns, ...jsonTxns].reduce((s, t) => s + t.amount_minor, 0)

  async function produceGood(): Promise<void> {
    await producer.send({
      topic: topics.transactions,
      messages: [
        ...(await Promise.all(
          avroTxns.map(async (t) => ({
            key: t.merchant_id,
            value: await codec.encode(TERMINAL_TRANSACTION, t, 'avro'),
          })),
        )),
        ...jsonTxns.map((t) => ({ key: t.merchant_id, value: Buffer.from(JSON.stringify(t)) })),
      ],
    })
    await producer.send({
      topic: topics.merchantEvents,
      messages: await Promise.all(
        events.map(async (e) => ({
          key: e.merchant_id,
          value: await codec.encode(MERCHANT_EVENT, e, 'avro'),
        })),
      ),
    })
  }

  it('stores framed Avro and JSON events once, with daily aggregates that add up', async () => {
    const consumer = startConsumer(uniqueName('ingest'))
    await consumer.start()
    await produceGood()
    await waitFor(
      async () => (await count('SELECT count() AS n FROM transactions FINAL')) === 400,
      async () => `transactions: ${await count('SELECT count() AS n FROM transactions FINAL')}`,
    )
    await waitFor(
      async () => (await count('SELECT count() AS n FROM merchant_events FINAL')) === 5,
      async () => `merchant events: ${await count('SELECT count() AS n FROM merchant_events FINAL')}`,
    )
    expect(await count('SELECT sum(approved_amount_minor) AS n FROM merchant_daily_v')).toBe(expectedAmount)
    expect(await count('SELECT sum(approved_sales) AS n FROM merchant_daily_v')).toBe(400)
    expect(await count("SELECT count() AS n FROM merchant_profile_v WHERE registered_mcc = '5411'")).toBe(5)
  })

  it('does not count the same events twice when they are produced again', async () => {
    const before = consumers[0]?.stats.consumed ?? 0
    await produceGood()
    await waitFor(
      async () => (consumers[0]?.stats.consumed ?? 0) >= before + 405,
      () => `consumed ${consumers[0]?.stats.consumed} of ${before + 405}`,
    )
    expect(await count('SELECT count() AS n FROM transactions FINAL')).toBe(400)
    // Without FINAL too: the duplicates never reached the table, so the aggregates cannot see them.
    expect(await count('SELECT count() AS n FROM transactions')).toBe(400)
    expect(await count('SELECT sum(approved_amount_minor) AS n FROM merchant_daily_v')).toBe(expectedAmount)
    expect(consumers[0]?.stats.duplicates).toBeGreaterThanOrEqual(405)
  })

  it('does not count twice when a consumer group replays the topic from the beginning', async () => {
    const replay = startConsumer(uniqueName('replay'))
    await replay.start()
    await waitFor(
      async () => replay.stats.consumed >= 810,
      () => `replayed ${replay.stats.consumed} of 810`,
    )
    await replay.stop()
    expect(await count('SELECT count() AS n FROM transactions')).toBe(400)
    expect(await count('SELECT sum(approved_sales) AS n FROM merchant_daily_v')).toBe(400)
  })

  it('sends each kind of bad message to the DLQ with its reason and keeps consuming', async () => {
    const pan = '4111111111111111'
    const good = txn({ merchant_id: 'm-after-bad' })
    const goodFrame = await codec.encode(TERMINAL_TRANSACTION, good, 'avro')
    const unknownId = Buffer.from(goodFrame)
    unknownId.writeUInt32BE(999_999, 1)
    const { amount_minor: _dropped, ...missingAmount } = txn()
    const bad: { name: string; value: Buffer; code: string }[] = [
      { name: 'garbage', value: Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x01]), code: 'RISK_ERR_BAD_FRAME' },
      { name: 'garbage with a card number', value: Buffer.from(`card=${pan};`), code: 'RISK_ERR_BAD_FRAME' },
      { name: 'unknown schema id', value: unknownId, code: 'RISK_ERR_UNKNOWN_SCHEMA_ID' },
      {
        name: 'missing field',
        value: Buffer.from(JSON.stringify(missingAmount)),
        code: 'RISK_ERR_MISSING_FIELD',
      },
      {
        name: 'negative amount',
        value: await codec.encode(TERMINAL_TRANSACTION, txn({ amount_minor: -500 }), 'avro'),
        code: 'RISK_ERR_INVALID_FIELD',
      },
      {
        name: 'raw card number',
        value: await codec.encode(TERMINAL_TRANSACTION, txn({ card_token: pan }), 'avro'),
        code: 'RISK_ERR_RAW_CARD_NUMBER',
      },
      {
        name: 'far-future timestamp',
        value: Buffer.from(JSON.stringify(txn({ event_time: NOW + 86_400_000 }))),
        code: 'RISK_ERR_FUTURE_EVENT',
      },
    ]
    // All on one key, so they sit on one partition in this order, followed by a good event.
    await producer.send({
      topic: topics.transactions,
      messages: [
        ...bad.map((b) => ({ key: 'm-bad', value: b.value, headers: { source: b.name } })),
        { key: 'm-bad', value: goodFrame },
      ],
    })
    await waitFor(
      async () =>
        (await count('SELECT count() AS n FROM transactions WHERE txn_id = {id:String}', {
          id: good.txn_id,
        })) === 1,
      () => 'the good event after the bad ones was not stored',
    )
    const dead = await readTopic(kafka, `${topics.transactions}.dlq`, bad.length)
    const byName = new Map(dead.map((m) => [String(m.headers?.source), m]))
    for (const b of bad) {
      const m = byName.get(b.name)
      expect(m, b.name).toBeDefined()
      expect(String(m?.headers?.[DLQ_HEADERS.code]), b.name).toBe(b.code)
      expect(String(m?.headers?.[DLQ_HEADERS.topic])).toBe(topics.transactions)
      expect(Number(m?.headers?.[DLQ_HEADERS.offset])).toBeGreaterThanOrEqual(0)
      expect(String(m?.headers?.[DLQ_HEADERS.message]).length).toBeGreaterThan(5)
      if (b.code === 'RISK_ERR_RAW_CARD_NUMBER') {
        expect(m?.value?.includes(pan)).toBe(false)
        expect(String(m?.headers?.[DLQ_HEADERS.redacted])).toBe('value')
        expect(String(m?.headers?.[DLQ_HEADERS.field])).toBe('card_token')
      } else if (b.value.includes(pan)) {
        expect(m?.value?.toString()).toBe('card=****************;')
        expect(String(m?.headers?.[DLQ_HEADERS.redacted])).toBe('value')
      } else {
        expect(m?.value?.equals(b.value), `${b.name}: original bytes kept`).toBe(true)
      }
    }
    // The raw number never reached ClickHouse either.
    expect(
      await count('SELECT count() AS n FROM transactions WHERE card_token = {pan:String}', { pan }),
    ).toBe(0)
  })
})
