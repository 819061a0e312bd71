import { randomUUID } from 'node:crypto'
import type { Kafka } from 'kafkajs'
import type { EventCodec } from '../kafka/codec.ts'
import { RISK_ALERT } from '../schemas/contract.ts'

export interface AlertMessage {
  partition: number
  offset: string
  /** The record's Kafka timestamp, ms: when the scorer sent it. */
  timestamp: number
  /** The decoded alert (a RiskAlert record), or null with why it could not be decoded. */
  alert: Record<string, unknown> | null
  problem: string | null
}

export interface TailOptions {
  fromBeginning: boolean
  /** Consumer group; a throwaway one by default, so a tail never moves anybody's offsets. */
  groupId?: string
  onAlert: (m: AlertMessage) => void
  /** Stops waiting for the topic to appear. */
  signal?: AbortSignal
}

/**
 * Follows an acquirer's alert topic and decodes each alert (framed Avro or JSON, told apart by the
 * first byte). Reads committed transactions only (read_committed), as an acquirer's consumer must:
 * an aborted attempt of the scorer is never shown. Waits for the topic to exist (it is created with the
 * acquirer's first alert). Returns a function that stops the tail.
 */
export async function tailAlerts(
  kafka: Kafka,
  codec: EventCodec,
  topic: string,
  opts: TailOptions,
): Promise<() => Promise<void>> {
  // An acquirer's topic appears with its first alert; subscribing before would fail.
  const admin = kafka.admin()
  await admin.connect()
  try {
    while (!(await admin.listTopics()).includes(topic)) {
      if (opts.signal?.aborted === true) return async () => {}
      await new Promise((r) => setTimeout(r, 1000))
    }
  } finally {
    await admin.disconnect()
  }
  const groupId = opts.groupId ?? `alerts-tail-${randomUUID()}`
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 200 })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: opts.fromBeginning })
  await consumer.run({
    autoCommit: opts.groupId !== undefined,
    eachMessage: async ({ partition, message }) => {
      const decoded = await codec.decode(RISK_ALERT, message.value)
      const timestamp = Number(message.timestamp)
      opts.onAlert(
        decoded.ok
          ? { partition, offset: message.offset, timestamp, alert: decoded.record, problem: null }
          : { partition, offset: message.offset, timestamp, alert: null, problem: decoded.error.message },
      )
    },
  })
  return async () => {
    await consumer.disconnect()
    if (opts.groupId === undefined) {
      const admin = kafka.admin()
      await admin.connect()
      await admin.deleteGroups([groupId]).catch(() => {})
      await admin.disconnect()
    }
  }
}
