import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { IngestStage, type StoredBatch, type StoredEventSink } from '../../ingest/stage.ts'
import { EventCodec } from '../../kafka/codec.ts'
import { createLogger } from '../../lib/logger.ts'
import { sleep } from '../../lib/retry.ts'
import { TERMINAL_TRANSACTION } from '../../schemas/contract.ts'
import { openStore, type Store } from '../../store/client.ts'
import { txn } from '../helpers/events.ts'
import { createInputTopics, EVERY_ACQUIRER_KNOWN, ingestSettings } from '../helpers/ingest.ts'
import { testKafka, uniqueName, waitFor } from '../helpers/kafka.ts'

/** Records what the consumer asks of its downstream stage, in order. */
class RecordingSink implements StoredEventSink {
  readonly calls: string[] = []
  async prepare(_topic: string, partition: number): Promise<void> {
    this.calls.push(`prepare ${partition}`)
  }
  process(batch: StoredBatch, partition: number): void {
    this.calls.push(`process ${partition} ${batch.items.length}`)
  }
  async flush(): Promise<void> {}
  revoked(_topic: string, partitions: readonly number[]): void {
    this.calls.push(`revoked ${partitions.join(',')}`)
  }
}

describe('ingest and its rules stage when the insert of a part gives up', () => {
  let store: Store
  let dir: string
  const topics = { transactions: uniqueName('sink-txns'), merchantEvents: uniqueName('sink-mevents') }
  const kafka = testKafka(inject('kafkaBrokers'))
  const codec = new EventCodec({})

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ingest-sink-'))
    store = await openStore({ database: 'sink_test', chdbPath: join(dir, 'chdb') })
    await createInputTopics(kafka, topics, 1)
  })
  afterAll(async () => {
    await store?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('drops the rule state the part went into, so its events are applied again only onto rebuilt state', async () => {
    // The rules take a part's new events while it is inserted. Here every insert into transactions
    // fails (retriably) until the consumer is stopped, so the part is given up after `process`.
    const exec = store.client.exec.bind(store.client)
    let failing = true
    store.client.exec = (p) =>
      failing && p.query.includes('.transactions')
        ? Promise.reject(
            Object.assign(new Error('connect ECONNREFUSED (injected)'), { code: 'ECONNREFUSED' }),
          )
        : exec(p)
    const producer = kafka.producer()
    await producer.connect()
    const now = Date.now()
    const events = Array.from({ length: 10 }, (_, i) =>
      txn({ merchant_id: 'm-1', event_time: now - 60_000 + i }),
    )
    await producer.send({
      topic: topics.transactions,
      messages: await Promise.all(
        events.map(async (t) => ({
          key: t.merchant_id,
          value: await codec.encode(TERMINAL_TRANSACTION, t, 'avro'),
        })),
      ),
    })
    await producer.disconnect()

    const group = uniqueName('sink-group')
    const sink = new RecordingSink()
    const deps = {
      kafka,
      store,
      codec,
      logger: createLogger('silent'),
      now: Date.now,
      sleep,
      sink,
      acquirers: EVERY_ACQUIRER_KNOWN,
    }
    const first = new IngestStage(ingestSettings(group, topics), deps)
    await first.start()
    await waitFor(
      async () => sink.calls.includes('process 0 10'),
      () => `sink calls: ${sink.calls.join('; ')}`,
    )
    await first.stop()
    expect(sink.calls).toEqual(['prepare 0', 'process 0 10', 'revoked 0'])
    const stored = async () => {
      const rs = await store.client.query({
        query: 'SELECT count() AS n FROM sink_test.transactions',
        format: 'JSONEachRow',
      })
      return Number((await rs.json<{ n: string }>())[0]?.n)
    }
    expect(await stored()).toBe(0)

    // ClickHouse is back: the part is read again, its events are new to the store and to the rebuilt
    // state, and they are stored once.
    failing = false
    sink.calls.length = 0
    const second = new IngestStage(ingestSettings(group, topics), deps)
    await second.start()
    await waitFor(
      async () => (await stored()) === 10,
      async () => `${await stored()} stored`,
    )
    await second.stop()
    expect(sink.calls).toEqual(['prepare 0', 'process 0 10'])
  })
})
