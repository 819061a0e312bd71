import type { Kafka } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { ensureTopics } from '../../kafka/topics.ts'
import { commitPart, transactionalProducer } from '../../kafka/transactions.ts'
import { testKafka, uniqueName } from '../helpers/kafka.ts'

describe('a part committed in a Kafka transaction', () => {
  let kafka: Kafka
  const topic = uniqueName('txn-out')
  const input = uniqueName('txn-in')
  const groupId = uniqueName('txn-group')

  beforeAll(async () => {
    kafka = testKafka(inject('kafkaBrokers'))
    await ensureTopics(kafka, [topic, input], { partitions: 1, replicationFactor: 1 })
  })

  afterAll(async () => {
    const admin = kafka.admin()
    await admin.connect()
    await admin.deleteGroups([groupId]).catch(() => {})
    await admin.disconnect()
  })

  it('commits parts with no output (offsets alone) right after one another', async () => {
    // The broker refuses AddOffsetsToTxn with CONCURRENT_TRANSACTIONS while it still writes the previous
    // commit's markers, and kafkajs does not retry that request: without our retry, some of these fail.
    const producer = await transactionalProducer(kafka, uniqueName('txn-id'))
    try {
      for (let i = 1; i <= 40; i++) {
        const sends: [string, { value: string }[]][] = i % 4 === 0 ? [[topic, [{ value: `m${i}` }]]] : []
        await commitPart(
          producer,
          { sends, groupId, offsets: [{ topic: input, partitions: [{ partition: 0, offset: String(i) }] }] },
          { topic: input, partition: 0 },
        )
      }
    } finally {
      await producer.disconnect()
    }
    const admin = kafka.admin()
    await admin.connect()
    try {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [input] })
      expect(committed?.partitions[0]?.offset).toBe('40')
    } finally {
      await admin.disconnect()
    }
  })
})
