import { randomBytes } from 'node:crypto'
import { Kafka, type KafkaMessage, logLevel } from 'kafkajs'
// The service compresses its internal topics with zstd, whose kafkajs codec it registers: tests read them too.
import '../../kafka/compression.ts'

/**
 * A unique suffix per test, so topics and groups of different tests never meet. It ends with a letter:
 * eight hex digits are all decimal one time in forty, and an id built as `<name>-<n>-<m>` would then
 * hold dash-grouped digits that pass Luhn one time in ten, which the service refuses as a card number.
 */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}x`
}

export function testKafka(brokers: string): Kafka {
  return new Kafka({ clientId: 'test', brokers: brokers.split(','), logLevel: logLevel.NOTHING })
}

/** Reads every message of a topic from the beginning with a throwaway group until `count` arrived. */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  count: number,
  timeoutMs = 30_000,
): Promise<KafkaMessage[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('reader') })
  const out: KafkaMessage[] = []
  try {
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`read ${out.length} of ${count} messages from ${topic}`)),
        timeoutMs,
      )
      void consumer.run({
        eachMessage: async ({ message }) => {
          out.push(message)
          if (out.length >= count) {
            clearTimeout(timer)
            resolve()
          }
        },
      })
    })
  } finally {
    await consumer.disconnect()
  }
  return out
}

/** Polls `probe` until it returns true, or fails with `describe()` after the timeout. */
export async function waitFor(
  probe: () => Promise<boolean>,
  describe: () => Promise<string> | string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await probe()) return
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`timed out: ${await describe()}`)
}

/** The topics on the broker whose names start with `prefix.`, sorted. */
export async function topicsUnder(kafka: Kafka, prefix: string): Promise<string[]> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    return (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`)).sort()
  } finally {
    await admin.disconnect()
  }
}
