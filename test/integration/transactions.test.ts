import kafkajs, { type Kafka, type Producer } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { forgetCoordinators } from '../../kafka/coordinators.ts'
import { ensureTopics } from '../../kafka/topics.ts'
import { commitPart, transactionalProducer } from '../../kafka/transactions.ts'
import { readTopic, testKafka, uniqueName } from '../helpers/kafka.ts'

const { CompressionCodecs, CompressionTypes } = kafkajs

/** Puts a zstd codec that counts its calls in kafkajs's place; `restore` puts the service's back. */
function countingZstd() {
  const zstd = CompressionCodecs[CompressionTypes.ZSTD]
  const calls = { compressed: 0, decompressed: 0 }
  CompressionCodecs[CompressionTypes.ZSTD] = () => {
    const codec = zstd()
    return {
      compress: (e: { buffer: Buffer }) => {
        calls.compressed++
        return codec.compress(e)
      },
      decompress: (b: Buffer) => {
        calls.decompressed++
        return codec.decompress(b)
      },
    }
  }
  return {
    calls,
    restore: () => {
      CompressionCodecs[CompressionTypes.ZSTD] = zstd
    },
  }
}

describe('a part committed in a Kafka transaction', () => {
  let kafka: Kafka
  const topic = uniqueName('txn-out')
  const input = uniqueName('txn-in')
  const groupId = uniqueName('txn-group')
  const squeezed = uniqueName('txn-zstd')
  const plainTopic = uniqueName('txn-plain')

  beforeAll(async () => {
    kafka = testKafka(inject('kafkaBrokers'))
    await ensureTopics(kafka, [topic, input, squeezed, plainTopic], { partitions: 1, replicationFactor: 1 })
  })

  /** A part with records for the compressed topic and one for the plain topic, committing `offset`. */
  const commitMixed = (producer: Producer, values: { value: string }[], plain: string, offset: string) =>
    commitPart(
      producer,
      {
        compression: { type: CompressionTypes.ZSTD, topics: new Set([squeezed]) },
        sends: [
          [squeezed, values],
          [plainTopic, [{ value: plain }]],
        ],
        groupId,
        offsets: [{ topic: input, partitions: [{ partition: 0, offset }] }],
      },
      { topic: input, partition: 0 },
    )

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

  it('compresses the batches of the topics it is told to, and only those, in the same transaction', async () => {
    // Count what the zstd codec decompresses while the two topics are read back.
    const zstd = countingZstd()
    const producer = await transactionalProducer(kafka, uniqueName('txn-id'))
    const values = Array.from({ length: 300 }, (_, i) => ({
      value: JSON.stringify({ i, pad: 'x'.repeat(200) }),
    }))
    try {
      await commitMixed(producer, values, 'plain', '1')
      const plain = await readTopic(kafka, plainTopic, 1)
      expect(plain.map((m) => m.value?.toString())).toEqual(['plain'])
      expect(zstd.calls.decompressed).toBe(0)
      const read = await readTopic(kafka, squeezed, values.length)
      expect(read.map((m) => m.value?.toString())).toEqual(values.map((v) => v.value))
      expect(zstd.calls.decompressed).toBeGreaterThan(0)
    } finally {
      zstd.restore()
      await producer.disconnect()
    }
  })

  it('sends a small part in one plain request, whatever it would compress', async () => {
    const zstd = countingZstd()
    const producer = await transactionalProducer(kafka, uniqueName('txn-id'))
    let produceRequests = 0
    producer.on(producer.events.REQUEST, ({ payload }) => {
      if (payload.apiName === 'Produce') produceRequests++
    })
    const small = Array.from({ length: 5 }, (_, i) => ({ value: `small-${i}` }))
    try {
      await commitMixed(producer, small, 'plain-with-small', '2')
      expect(produceRequests).toBe(1)
      expect(zstd.calls.compressed).toBe(0)
      const read = await readTopic(kafka, squeezed, 300 + small.length)
      expect(read.slice(300).map((m) => m.value?.toString())).toEqual(small.map((v) => v.value))
    } finally {
      zstd.restore()
      await producer.disconnect()
    }
  })

  it('asks the broker for its coordinators once, not before every request of every transaction', async () => {
    // kafkajs alone sends FindCoordinator (apiName GroupCoordinator) four times per transaction.
    const producer = await transactionalProducer(kafka, uniqueName('txn-id'))
    const requests = new Map<string, number>()
    producer.on(producer.events.REQUEST, ({ payload }) => {
      requests.set(payload.apiName, (requests.get(payload.apiName) ?? 0) + 1)
    })
    const part = async (i: number) =>
      commitPart(
        producer,
        {
          sends: [[topic, [{ value: `c${i}` }]]],
          groupId,
          offsets: [{ topic: input, partitions: [{ partition: 0, offset: String(100 + i) }] }],
        },
        { topic: input, partition: 0 },
      )
    try {
      // The first transaction finds the transaction's coordinator and the group's.
      await part(1)
      expect(requests.get('GroupCoordinator')).toBe(2)
      for (let i = 2; i <= 10; i++) await part(i)
      expect(requests.get('EndTxn')).toBe(10)
      expect(requests.get('TxnOffsetCommit')).toBe(10)
      expect(requests.get('GroupCoordinator')).toBe(2)

      // After a failure (kafka/transactions.ts forgets on every one), the next transaction asks again.
      const before = requests.get('GroupCoordinator') ?? 0
      forgetCoordinators()
      await part(11)
      expect(requests.get('GroupCoordinator')).toBe(before + 2)
      await part(12)
      expect(requests.get('GroupCoordinator')).toBe(before + 2)
    } finally {
      await producer.disconnect()
    }
    const admin = kafka.admin()
    await admin.connect()
    try {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [input] })
      expect(committed?.partitions[0]?.offset).toBe('112')
    } finally {
      await admin.disconnect()
    }
  })
})
