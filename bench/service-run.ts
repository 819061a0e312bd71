import type { Kafka } from 'kafkajs'
import { loadConfig } from '../config/load.ts'
import type { Config } from '../config/spec.ts'
import { ensureTopics } from '../kafka/topics.ts'

/**
 * The service's configuration for one benchmark run on a local broker: every topic and group named
 * after the run, so runs never share state; the simulator off; tuning variables of the environment
 * (INGEST_CONCURRENCY, RULES_MAX_BATCH, ...) passed through.
 */
export function benchConfig(
  run: string,
  opts: {
    brokers: readonly string[]
    acquirers: readonly string[]
    chdbPath: string
    /** Partitions of the topics the service creates; the broker's default when absent. */
    partitions?: number
    groupId?: string
    /** Settings of this bench, over the defaults above. */
    env?: Readonly<Record<string, string>>
  },
): Config {
  return loadConfig({
    env: {
      ...process.env,
      KAFKA_BROKERS: opts.brokers.join(','),
      KAFKA_GROUP_ID: opts.groupId ?? `${run}-group`,
      ...(opts.partitions === undefined ? {} : { KAFKA_TOPIC_PARTITIONS: String(opts.partitions) }),
      TOPIC_TRANSACTIONS: `${run}.transactions`,
      TOPIC_MERCHANT_EVENTS: `${run}.merchant-events`,
      TOPIC_ENTITY_ACTIVITY: `${run}.entity-activity`,
      TOPIC_RULE_HITS: `${run}.rule-hits`,
      TOPIC_SCORING_STATE: `${run}.scoring-state`,
      TOPIC_SCORE_EVENTS: `${run}.score-events`,
      TOPIC_PARKED: `${run}.parked`,
      ALERTS_TOPIC_PATTERN: `${run}.alerts.{acquirer}`,
      ACQUIRERS: opts.acquirers.join(','),
      CHDB_PATH: opts.chdbPath,
      SIMULATOR: 'off',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      ...opts.env,
    },
  })
}

/** Creates the input topics and their dead-letter topics, before anything is produced to them. */
export async function ensureInputTopics(kafka: Kafka, config: Config, partitions: number): Promise<void> {
  const { transactions, merchantEvents, dlqSuffix } = config.topics
  await ensureTopics(
    kafka,
    [transactions, merchantEvents, `${transactions}${dlqSuffix}`, `${merchantEvents}${dlqSuffix}`],
    { partitions, replicationFactor: 1 },
  )
}
