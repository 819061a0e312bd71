import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Kafka } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { ensureTopics } from '../../kafka/topics.ts'
import { decodeActivity } from '../../rules/entity/activity.ts'
import { EntityPublisher } from '../../rules/entity/publisher.ts'
import { openStore, type Store } from '../../store/client.ts'
import { insertTransactions } from '../../store/transactions.ts'
import { txn } from '../helpers/events.ts'
import { readTopic, testKafka, uniqueName } from '../helpers/kafka.ts'

describe('entity publisher recovery after a crash between the store write and the publish', () => {
  let kafka: Kafka
  let store: Store
  let dir: string
  const topics = { transactions: uniqueName('rtx'), merchantEvents: uniqueName('rev') }
  const activity = uniqueName('activity')
  const groupId = uniqueName('ingest')
  // One card at three merchants, stored at offsets 0, 1, 2 of partition 0 as ingest would have, but
  // never published (the run died) and never committed.
  const sales = ['m-a', 'm-b', 'm-c'].map((merchant_id) => txn({ merchant_id, card_token: 'tok-ring' }))

  function publisher() {
    return new EntityPublisher({
      kafka,
      topic: activity,
      now: Date.now,
      recovery: { store, groupId, topics, lookbackMs: 3_600_000 },
    })
  }

  beforeAll(async () => {
    kafka = testKafka(inject('kafkaBrokers'))
    dir = mkdtempSync(join(tmpdir(), 'entity-recovery-'))
    store = await openStore({ database: 'recovery_test', chdbPath: join(dir, 'chdb') })
    await ensureTopics(kafka, [topics.transactions, activity], { partitions: 1, replicationFactor: 1 })
    await insertTransactions(
      store,
      sales.map((t, i) => ({ txn: t, topic: topics.transactions, partition: 0, offset: String(i) })),
      { timeZoneOf: () => '+08:00', now: Date.now() },
    )
  })

  afterAll(async () => {
    await store?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('re-publishes the records of stored but uncommitted events, and only those', async () => {
    const first = publisher()
    await first.start()
    await first.prepare(topics.transactions, 0)
    // A second prepare of the same partition is a no-op.
    await first.prepare(topics.transactions, 0)
    await first.stop()
    expect(first.recovered).toBe(3)

    const records = (await readTopic(kafka, activity, 3)).map((m) => decodeActivity(m.value))
    expect(
      records
        .map((r) => (r.ok ? `${r.record.kind}:${r.record.key}:${r.record.merchantId}` : r.problem))
        .sort(),
    ).toEqual(['card:tok-ring:m-a', 'card:tok-ring:m-b', 'card:tok-ring:m-c'])

    // The group committed past the first two events: only the third can still be unpublished.
    const admin = kafka.admin()
    await admin.connect()
    await admin.setOffsets({
      groupId,
      topic: topics.transactions,
      partitions: [{ partition: 0, offset: '2' }],
    })
    await admin.disconnect()
    const second = publisher()
    await second.start()
    await second.prepare(topics.transactions, 0)
    await second.stop()
    expect(second.recovered).toBe(1)
  })
})
