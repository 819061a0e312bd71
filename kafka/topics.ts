import type { Admin, Kafka } from 'kafkajs'
import { asRiskError } from '../lib/errors.ts'

export interface TopicSettings {
  partitions: number
  replicationFactor: number
  /** Topic-level settings per topic name (e.g. a retention longer than the broker default). */
  configEntries?: Readonly<Record<string, readonly { name: string; value: string }[]>>
}

/**
 * Creates the topics that are missing. Existing topics are left alone, even with another partition
 * count: repartitioning a keyed topic moves merchants between partitions, an operator's decision.
 * Returns the names it created.
 */
export async function ensureTopics(
  kafka: Kafka,
  names: readonly string[],
  settings: TopicSettings,
): Promise<string[]> {
  const admin = kafka.admin()
  try {
    await admin.connect()
    const existing = new Set(await admin.listTopics())
    const missing = [...new Set(names)].filter((n) => !existing.has(n))
    if (missing.length === 0) return []
    // createTopics answers false (not an error) when another instance created them first.
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({
        topic,
        numPartitions: settings.partitions,
        replicationFactor: settings.replicationFactor,
        configEntries: [...(settings.configEntries?.[topic] ?? [])],
      })),
    })
    await leadersReady(admin, missing)
    return missing
  } catch (e) {
    throw asRiskError(e, 'RISK_ERR_KAFKA', 'cannot create topics', { topics: names.join(',') })
  } finally {
    await admin.disconnect()
  }
}

/**
 * Waits until every partition of the new topics answers a ListOffsets: `waitForLeaders` returns once the
 * controller elected leaders, but a KRaft broker serves them a moment later, and the stages' first
 * offset look-ups would otherwise be refused with NOT_LEADER_FOR_PARTITION and retried.
 */
async function leadersReady(admin: Admin, topics: readonly string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (const topic of topics) {
    for (;;) {
      try {
        await admin.fetchTopicOffsets(topic)
        break
      } catch (e) {
        if (Date.now() > deadline) throw e
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  }
}
