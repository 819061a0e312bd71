import avro from 'avsc'
import type { Kafka } from 'kafkajs'
import { bundledSchema, loadSchemaFile, TERMINAL_TRANSACTION } from '../schemas/contract.ts'

/**
 * The floor under the service: the Kafka client and the Avro decoder alone, reading a topic of framed
 * Avro transactions from its start and decoding every value, nothing else. The end-to-end benches
 * measure the service against this on the same broker and data, in the same run, and print the ratio.
 */
export async function clientFloor(
  kafka: Kafka,
  topic: string,
  expected: number,
): Promise<{ events: number; seconds: number; eventsPerSecond: number }> {
  const schema = loadSchemaFile(bundledSchema(TERMINAL_TRANSACTION).file) as Parameters<
    typeof avro.Type.forSchema
  >[0]
  const type = avro.Type.forSchema(schema)
  const consumer = kafka.consumer({
    groupId: `client-floor-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
    maxBytesPerPartition: 4 * 1024 * 1024,
  })
  let events = 0
  let decoded = 0
  const started = performance.now()
  let done: () => void = () => {}
  const finished = new Promise<void>((resolve) => {
    done = resolve
  })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    eachBatchAutoResolve: true,
    autoCommit: false,
    partitionsConsumedConcurrently: 6,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        if (m.value !== null && m.value.length > 5) {
          const record: unknown = type.fromBuffer(m.value.subarray(5))
          if (record !== null) decoded++
        }
        events++
      }
      if (events >= expected) done()
    },
  })
  await finished
  const seconds = (performance.now() - started) / 1000
  await consumer.disconnect()
  if (decoded !== events) throw new Error(`client floor: decoded ${decoded} of ${events}`)
  return { events, seconds, eventsPerSecond: Math.round(events / seconds) }
}
